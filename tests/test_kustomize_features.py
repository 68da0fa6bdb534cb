"""The kustomize features KServe's config/ trees use, case by case, against `kubectl kustomize`.

tests/test_kustomize_config_trees.py builds the real trees; these small kustomizations (written
for these tests) also reach the corners the real trees do not: replacements that create, reject
and select by label, labels on selectors and custom fields, nested components, images by digest
or tag suffix, a namespace moved twice.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from installer import kustomize
from installer.errors import BuildError
from tests.kustomize_ref import differences, kubectl_kustomize
from tests.test_kustomize_engine import BASE

K = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
COMPONENT = "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"

APP = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: app, labels: {tier: web}, annotations: {team: blue}}
spec:
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      serviceAccountName: app
      containers:
      - {name: main, image: "registry.io:5000/team/app:v1", ports: [{containerPort: 8080}]}
      - {name: side, image: "team/side@sha256:abc"}
---
apiVersion: v1
kind: Service
metadata: {name: app, labels: {tier: web}}
spec:
  selector: {app: app}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: app}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: app}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: app}
subjects: [{kind: ServiceAccount, name: app, namespace: default}, {kind: ServiceAccount, name: other, namespace: x}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: app.example.io, annotations: {cert-manager.io/inject-ca-from: system/app-cert}}
webhooks:
- name: v.app.example.io
  admissionReviewVersions: [v1]
  sideEffects: None
  clientConfig: {service: {name: app, namespace: system, path: /validate}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: app-cert}
spec:
  commonName: app.system.svc
  dnsNames: [app.system.svc, app.system.svc.cluster.local]
  secretName: app-cert
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 1 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: job, image: team/job:v1}]
---
apiVersion: example.io/v1
kind: Runtime
metadata: {name: rt, labels: {kind: runtime, tier: web}}
spec:
  container: {image: team/runtime:v1}
  selector: {matchLabels: {app: rt}}
  ports: [{name: http, port: 8080}]
"""

CASES: dict[str, dict[str, str]] = {
    "replacements": {
        "kustomization.yaml": K + "namespace: ml\nresources: [app.yaml]\nreplacements:\n"
        # the namespace of the Deployment into DNS names (one part), a webhook and an annotation
        "- source: {kind: Deployment, name: app, fieldPath: metadata.namespace}\n"
        "  targets:\n"
        "  - select: {kind: Certificate}\n"
        "    fieldPaths: [spec.commonName, spec.dnsNames.*]\n"
        "    options: {delimiter: '.', index: 1}\n"
        "  - select: {kind: ValidatingWebhookConfiguration}\n"
        "    fieldPaths: [webhooks.*.clientConfig.service.namespace]\n"
        "  - select: {kind: ValidatingWebhookConfiguration}\n"
        "    fieldPaths: ['metadata.annotations.[cert-manager.io/inject-ca-from]']\n"
        "    options: {delimiter: '/', index: 0}\n"
        # a port (a number) from a container into Service and custom resource, by list selectors
        "- source: {kind: Deployment, name: app, fieldPath: 'spec.template.spec.containers.[name=main].ports.0.containerPort'}\n"
        "  targets:\n"
        "  - select: {kind: Service}\n"
        "    fieldPaths: [spec.ports.0.port]\n"
        "  - select: {labelSelector: 'kind in (runtime),tier=web'}\n"
        "    reject: [{kind: Deployment}]\n"
        "    fieldPaths: ['spec.ports.[name=http].port', spec.extra.port]\n"
        "    options: {create: true}\n"
        # a map replaces a map; prefix and suffix with out-of-range indexes; reject by label
        "- source: {kind: Deployment, name: app, fieldPath: spec.selector.matchLabels}\n"
        "  targets:\n"
        "  - select: {kind: Runtime}\n"
        "    fieldPaths: [spec.selector.matchLabels]\n"
        "- path: more.yaml\n",
        "more.yaml": (
            "- source: {kind: Service, version: v1, name: app}\n"
            "  targets:\n"
            "  - select: {kind: Certificate}\n"
            "    fieldPaths: [spec.secretName]\n"
            "    options: {delimiter: '-', index: -1}\n"
            "  - select: {kind: Certificate}\n"
            "    fieldPaths: [spec.secretName]\n"
            "    options: {delimiter: '-', index: 9}\n"
            "  - select: {annotationSelector: team=blue}\n"
            "    reject: [{labelSelector: '!nope'}]\n"
            "    fieldPaths: [spec.never]\n"
        ),
        "app.yaml": APP,
    },
    "replacement types": {
        "kustomization.yaml": K + "resources: [app.yaml, cm.yaml]\nreplacements:\n"
        "- source: {kind: ConfigMap, name: settings, fieldPath: data.port}\n"
        "  targets:\n"
        "  - select: {kind: Service}\n"
        "    fieldPaths: [spec.ports.0.targetPort, spec.created.port]\n"
        "    options: {create: true}\n"
        "- source: {kind: Service, fieldPath: spec.ports.0.port}\n"
        "  targets:\n"
        "  - select: {kind: ConfigMap}\n"
        "    fieldPaths: [data.copy, data.number]\n",
        "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {port: '9090', copy: x, number: '1'}\n",
        "app.yaml": APP,
    },
    "labels on selectors, templates and custom fields": {
        "kustomization.yaml": K + "resources: [app.yaml]\nconfigurations: [conf.yaml]\nlabels:\n"
        "- pairs: {app.kubernetes.io/part-of: demo}\n  includeSelectors: true\n"
        "- pairs: {release: r1}\n  includeTemplates: true\n"
        "- pairs: {owner: me}\n  fields:\n  - {kind: Runtime, path: spec/owners, create: true}\n",
        "conf.yaml": "commonLabels:\n- {kind: Runtime, group: example.io, path: spec/selector/matchLabels, create: true}\n",
        "app.yaml": APP,
    },
    "images and annotations": {
        "kustomization.yaml": K + "resources: [app.yaml]\nconfigurations: [conf.yaml]\n"
        "commonAnnotations: {note: hello}\n"
        "images:\n"
        "- {name: registry.io:5000/team/app, newTag: v2}\n"
        "- {name: team/side, newName: mirror.local/side}\n"
        "- {name: team/job, digest: 'sha256:0123'}\n"
        "- {name: team/runtime, tagSuffix: -debug}\n",
        "conf.yaml": "images:\n- {kind: Runtime, path: spec/container/image}\n",
        "app.yaml": APP,
    },
    "components and a namespace moved twice": {
        "kustomization.yaml": K + "namespace: outer\nresources: [inner]\ncomponents: [comp]\n",
        "inner/kustomization.yaml": K + "namespace: system\nresources: [app.yaml]\n",
        "comp/kustomization.yaml": COMPONENT
        + "resources: [extra.yaml]\ncomponents: [../nested]\nlabels:\n- pairs: {component: c}\n"
        "patches:\n- patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n"
        "    metadata: {name: app, namespace: system}\n    spec: {replicas: 3}\n",
        "comp/extra.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\ndata: {k: v}\n",
        "nested/kustomization.yaml": COMPONENT + "commonAnnotations: {nested: 'yes'}\n",
        "inner/app.yaml": APP,
    },
    "patch targets by selectors and multi-document patches": {
        "kustomization.yaml": K + "resources: [app.yaml]\npatches:\n"
        "- target: {labelSelector: 'tier=web,!missing', annotationSelector: 'team notin (red)'}\n"
        "  patch: |-\n    - {op: add, path: /metadata/labels/selected, value: 'yes'}\n"
        "- target: {kind: Runtime, name: 'r.*'}\n"
        "  patch: |-\n    - {op: replace, path: /kind, value: Engine}\n"
        "- path: two.yaml\n",
        "two.yaml": (
            "apiVersion: v1\nkind: Service\nmetadata: {name: app}\nspec: {type: NodePort}\n---\n"
            "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: app, labels: {patched: 'true'}}\n"
        ),
        "app.yaml": APP,
    },
}


def _write(files: dict[str, str], root: Path) -> None:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)


@pytest.mark.kubectl
@pytest.mark.parametrize("case", sorted(CASES))
def test_feature_agrees_with_kubectl_kustomize(case: str, tmp_path: Path) -> None:
    ours = kustomize.build(kustomize.FileTree(dict(CASES[case])))
    _write(CASES[case], tmp_path)
    assert differences(ours, kubectl_kustomize(tmp_path)) == []


def test_unchanged_values_stay_the_same_objects() -> None:
    """Transformers copy only what they change: the render's writer relies on it."""
    parsed = kustomize.parse_documents("app.yaml", APP)
    files: dict[str, kustomize.FileValue] = {**CASES["replacements"], "app.yaml": parsed}
    out = kustomize.build(kustomize.FileTree(files))
    before = {(o["kind"], o["metadata"]["name"]): o for o in parsed}
    after = {(o["kind"], o["metadata"]["name"]): o for o in out}
    # The namespace and a replacement changed the Deployment's metadata, not its template.
    assert after[("Deployment", "app")] is not before[("Deployment", "app")]
    assert after[("Deployment", "app")]["spec"] is before[("Deployment", "app")]["spec"]
    assert after[("CronJob", "nightly")]["spec"] is before[("CronJob", "nightly")]["spec"]
    # A replacement that creates spec.extra copies the path to it, nothing beside it; writing
    # the value a port already has changes nothing.
    runtime_after, runtime_before = after[("Runtime", "rt")]["spec"], before[("Runtime", "rt")]["spec"]
    assert runtime_after["extra"] == {"port": 8080}
    assert runtime_after is not runtime_before
    assert runtime_after["container"] is runtime_before["container"]
    assert runtime_after["ports"] is runtime_before["ports"]


def test_a_target_matching_nothing_changes_nothing_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    files = {
        "kustomization.yaml": K + "resources: [base.yaml]\npatches:\n- target: {kind: Nope}\n  patch: '[]'\n",
        "base.yaml": BASE,
    }
    with caplog.at_level(logging.WARNING):
        out = kustomize.build(kustomize.FileTree(dict(files)))
    assert out == kustomize.parse_documents("base.yaml", BASE)
    assert "no resource matches target kind=Nope" in caplog.text


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"kustomization.yaml": K + "namePrefix: x-\nresources: [app.yaml]\n"},
            "unsupported field 'namePrefix'",
        ),
        ({"kustomization.yaml": K + "resourcez: [app.yaml]\n"}, "unknown field 'resourcez'"),
        (
            {
                "kustomization.yaml": K
                + "resources: [app.yaml]\npatches:\n- {path: p.yaml, options: {allowNameChange: true}}\n"
            },
            "unsupported field 'patches[0].options'",
        ),
        (
            {"kustomization.yaml": K + "resources: [app.yaml]\nimages:\n- {name: a, newTag: 1.5}\n"},
            "images[0].newTag: must be a string",
        ),
        (
            {"kustomization.yaml": K + "resources: [app.yaml]\nlabels:\n- pairs: {flag: true}\n"},
            "labels[0].pairs.flag: must be a string",
        ),
        (
            {
                "kustomization.yaml": K + "resources: [comp]\n",
                "comp/kustomization.yaml": COMPONENT + "resources: [../app.yaml]\n",
            },
            "is a Component; list it under components",
        ),
        (
            {
                "kustomization.yaml": K + "components: [sub]\n",
                "sub/kustomization.yaml": K + "resources: [../app.yaml]\n",
            },
            "is not a Component",
        ),
        (
            {
                "kustomization.yaml": K + "resources: [a]\n",
                "a/kustomization.yaml": K + "resources: [../b]\n",
                "b/kustomization.yaml": K + "resources: [../a]\n",
            },
            "cycle: . -> a -> b -> a",
        ),
        (
            {
                "kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Kustomization\nresources: [app.yaml]\n"
            },
            "apiVersion for Kustomization should be",
        ),
        ({"kustomization.yaml": K}, "the kustomization is empty"),
        (
            {
                "kustomization.yaml": K
                + "resources: [app.yaml]\nreplacements:\n- source: {version: v1}\n  targets: []\n"
            },
            "8 objects are selected by source v1",
        ),
        (
            {
                "kustomization.yaml": K
                + "resources: [app.yaml]\nreplacements:\n- source: {kind: Service}\n  targets:\n  - select: {kind: Runtime}\n    fieldPaths: [spec.nope]\n"
            },
            "unable to find field 'spec.nope'",
        ),
        (
            {
                "kustomization.yaml": K
                + "resources: [app.yaml]\nreplacements:\n- source: {kind: Service}\n  targets:\n  - select: {kind: Runtime}\n    fieldPaths: [spec.ports.3.port]\n"
            },
            "index 3 specified but only 1 elements found",
        ),
        (
            {
                "kustomization.yaml": K
                + "resources: [app.yaml]\npatches:\n- target: {kind: Service}\n  patch: '[{op: replace, path: /metadata/name, value: x}]'\n"
            },
            "renaming an object with a patch is not supported",
        ),
        (
            {
                "kustomization.yaml": K
                + "resources: [app.yaml]\npatches:\n- target: {labelSelector: 'a in b'}\n  patch: '[]'\n"
            },
            "expected '(' after in/notin",
        ),
        (
            {
                "kustomization.yaml": K + "resources: [app.yaml]\nconfigurations: [c.yaml]\n",
                "c.yaml": "images:\n- {path: a, kindd: X}\n",
            },
            "unknown field 'images[0].kindd'",
        ),
        (
            {
                "kustomization.yaml": K + "resources: [bad.yaml]\n",
                "bad.yaml": "apiVersion: v1\nkind: ConfigMap\ndata: {}\n",
            },
            "bad.yaml: a ConfigMap without metadata.name",
        ),
        (
            {
                "kustomization.yaml": K + "resources: [bad.yaml]\n",
                "bad.yaml": "apiVersion: v1\nkind: List\nitems: []\n",
            },
            "a List of objects is not supported",
        ),
        (
            {
                "kustomization.yaml": K + "resources: [app.yaml]\nconfigurations: [c.yaml]\n",
                "c.yaml": "commonLabels:\n- {path: metadata/labels}\n",
            },
            "conflicting field specs for metadata/labels",
        ),
    ],
)
def test_refusals_name_the_file_and_field(files: dict[str, str], message: str) -> None:
    with pytest.raises(BuildError, match=re.escape(message)) as err:
        kustomize.build(kustomize.FileTree({"app.yaml": APP, **files}))
    assert err.value.message.startswith("kustomize: ")
