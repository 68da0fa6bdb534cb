"""The kustomize-style engine against `kubectl kustomize`, transformer by transformer.

Fixtures are small objects written for these tests (not upstream files); the real upstream
manifests go through the same comparison in tests/test_render_differential.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from installer import kustomize
from installer.errors import BuildError
from tests.kustomize_ref import differences, kubectl_kustomize

BASE = """\
apiVersion: v1
kind: Namespace
metadata: {name: kserve, labels: {a: b}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: sa1, namespace: kserve}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: crb}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: x}
subjects:
- {kind: ServiceAccount, name: sa1, namespace: kserve}
- {kind: ServiceAccount, name: sa2, namespace: kserve}
- {kind: ServiceAccount, name: default, namespace: other}
- {kind: ServiceAccount, name: sa1, namespace: other}
- {kind: User, name: bob, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb, namespace: kserve}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: x}
subjects:
- {kind: ServiceAccount, name: sa1, namespace: kserve}
---
apiVersion: v1
kind: Service
metadata: {name: webhook-svc, namespace: kserve}
spec:
  ports: [{port: 443, targetPort: 9443, name: https}, {port: 8080, name: metrics}]
  selector: {app: x}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: vw
  annotations: {cert-manager.io/inject-ca-from: kserve/serving-cert}
webhooks:
- name: a.example.io
  admissionReviewVersions: [v1]
  sideEffects: None
  clientConfig: {service: {name: webhook-svc, namespace: kserve, path: /a}}
- name: b.example.io
  admissionReviewVersions: [v1]
  sideEffects: None
  clientConfig: {service: {name: elsewhere, namespace: other, path: /b}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: foos.example.io}
spec:
  group: example.io
  names: {kind: Foo, plural: foos}
  scope: Cluster
  versions: [{name: v1, served: true, storage: true}]
  conversion:
    strategy: Webhook
    webhook:
      conversionReviewVersions: [v1]
      clientConfig: {service: {name: webhook-svc, namespace: kserve, path: /convert}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ctrl, namespace: kserve, labels: {app: ctrl}}
spec:
  selector: {matchLabels: {app: ctrl}}
  template:
    metadata: {labels: {app: ctrl}}
    spec:
      containers:
      - name: manager
        image: example/controller:v1
        args: [--a, --b]
        env: [{name: A, value: "1"}, {name: B, value: "2"}]
        ports: [{containerPort: 9443, name: webhook}]
      - name: proxy
        image: quay.io/example/proxy:v0.1@sha256:0123
      initContainers:
      - {name: init, image: example/controller:v1}
      volumes: [{name: cert, secret: {secretName: c}}]
---
apiVersion: example.io/v1
kind: Foo
metadata: {name: foo1}
spec:
  containers: [{name: c, image: example/runtime:v1}]
  template:
    containers: [{name: t, image: example/runtime:v1}]
  worker:
    initContainers: [{name: w, image: example/controller:v1}]
  container: {image: example/runtime:v1}
  list: [1, 2, 3]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: kserve}
data: {a: "1", b: "2", c: "3"}
"""

CASES: dict[str, dict[str, str]] = {
    "namespace": {"kustomization.yaml": "resources: [base.yaml]\nnamespace: ml-serving\n"},
    "labels and annotations": {
        "kustomization.yaml": (
            "resources: [base.yaml]\n"
            "labels:\n- pairs: {app.kubernetes.io/managed-by: kserve-installer}\n"
            "- pairs: {tier: t}\n  includeTemplates: true\n"
            "commonAnnotations: {note: hello}\n"
        )
    },
    "images": {
        "kustomization.yaml": (
            "resources: [base.yaml]\nimages:\n"
            "- {name: example/controller, newName: reg.local:5000/m/example/controller}\n"
            "- {name: example/runtime, newTag: v2}\n"
            "- {name: quay.io/example/proxy, newName: reg.local/proxy}\n"
        )
    },
    "strategic merge": {
        "kustomization.yaml": (
            "resources: [base.yaml]\npatches:\n- path: deploy.yaml\n- path: svc.yaml\n"
            "- path: cm.yaml\n- path: foo.yaml\n"
            "- path: hooks.yaml\n"
            "- patch: |-\n    $patch: delete\n    apiVersion: rbac.authorization.k8s.io/v1\n"
            "    kind: RoleBinding\n    metadata: {name: rb, namespace: kserve}\n"
        ),
        "deploy.yaml": (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: ctrl, namespace: kserve}\n"
            "spec:\n  replicas: 2\n  template:\n    metadata:\n      annotations: {hash: abc}\n    spec:\n"
            "      containers:\n      - name: manager\n        args: [--c]\n"
            "        env: [{name: B, value: changed}, {name: C, value: new}, {name: A, $patch: delete}]\n"
            "      - name: sidecar\n        image: example/sidecar:v1\n"
            "      volumes: [{name: extra, emptyDir: {}}]\n"
        ),
        "svc.yaml": (
            "apiVersion: v1\nkind: Service\nmetadata: {name: webhook-svc, namespace: kserve}\n"
            "spec:\n  ports: [{port: 8080, name: http-metrics}]\n"
        ),
        "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: kserve}\ndata: {b: null, d: '4'}\n",
        "foo.yaml": "apiVersion: example.io/v1\nkind: Foo\nmetadata: {name: foo1}\nspec:\n  list: [9]\n  extra: {x: 1}\n",
        "hooks.yaml": (
            "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\n"
            "metadata: {name: vw}\nwebhooks:\n- name: b.example.io\n  failurePolicy: Ignore\n"
        ),
    },
    "json6902 and targets": {
        "kustomization.yaml": (
            "resources: [base.yaml]\npatches:\n"
            "- target: {kind: Deployment, name: ctrl}\n  patch: |-\n"
            "    - {op: replace, path: /spec/template/spec/containers/0/image, value: x/y:z}\n"
            "    - {op: add, path: /metadata/annotations, value: {k: v}}\n"
            "- target: {group: admissionregistration.k8s.io, kind: .*WebhookConfiguration}\n  path: ann.json\n"
            "- target: {kind: ConfigMap|Service, namespace: kserve}\n  patch: |-\n"
            "    - {op: add, path: /metadata/labels, value: {patched: 'yes'}}\n"
            "- target: {labelSelector: patched=yes, kind: ConfigMap}\n  patch: |-\n"
            "    apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: ignored}\n    data: {z: '26'}\n"
        ),
        "ann.json": '[{"op": "replace", "path": "/metadata/annotations/cert-manager.io~1inject-ca-from", "value": "ml/c"}]',
    },
    "layers": {
        "kustomization.yaml": (
            "resources: [inner]\npatches:\n- target: {kind: Foo}\n  patch: |-\n"
            "    - {op: remove, path: /metadata/namespace}\n"
        ),
        "inner/kustomization.yaml": "resources: [../base]\nnamespace: ml\nlabels:\n- pairs: {l: '1'}\n",
        "base/kustomization.yaml": "resources: [objs.yaml]\n",
        "base/objs.yaml": BASE,
    },
    # vars defined in a sub-kustomization are resolved at the top, after the namespace above moved
    # their objects; configurations add var-reference and namespace field specs that travel up.
    "vars and configurations": {
        "kustomization.yaml": "namespace: moved\nresources: [app]\n",
        "app/kustomization.yaml": (
            "bases: [../base]\nresources: [cert.yaml]\nconfigurations: [conf.yaml]\n"
            "vars:\n- name: SVC_NS\n  objref: {kind: Service, version: v1, name: webhook-svc}\n"
            "  fieldref: {fieldPath: metadata.namespace}\n"
            "- name: SVC_NAME\n  objref: {kind: Service, version: v1, name: webhook-svc}\n  fieldref: {}\n"
            "- name: PORT\n  objref: {kind: Service, version: v1, name: webhook-svc}\n"
            "  fieldref: {fieldPath: 'spec.ports[0].port'}\n"
            "patches:\n- path: ann.yaml\n"
        ),
        "app/cert.yaml": (
            "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c, namespace: kserve}\n"
            "spec:\n  commonName: $(SVC_NAME).$(SVC_NS).svc\n"
            "  dnsNames: [$(SVC_NAME).$(SVC_NS).svc, literal-$$(SVC_NS), $(UNKNOWN).x, port-$(PORT)]\n"
        ),
        "app/ann.yaml": (
            "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\n"
            "metadata:\n  name: vw\n  annotations: {cert-manager.io/inject-ca-from: $(SVC_NS)/c}\n"
        ),
        "app/conf.yaml": (
            "varReference:\n- {kind: Certificate, group: cert-manager.io, path: spec/commonName}\n"
            "- {kind: Certificate, group: cert-manager.io, path: spec/dnsNames}\n"
            "namespace:\n- {kind: ValidatingWebhookConfiguration, group: admissionregistration.k8s.io,"
            " path: webhooks/clientConfig/service/namespace, create: true}\n"
            "nameReference:\n- kind: Service\n  version: v1\n  fieldSpecs:\n"
            "  - {kind: ValidatingWebhookConfiguration, path: webhooks/clientConfig/service/name}\n"
        ),
        "base/kustomization.yaml": "resources: [objs.yaml]\n",
        "base/objs.yaml": BASE,
    },
    "generators and transformers": {
        "kustomization.yaml": (
            "resources: [base.yaml]\n"
            "configMapGenerator:\n- name: generated\n  files: [settings.yaml, renamed.txt=other.txt]\n"
            "  literals: [mode=fast]\n"
            "generatorOptions: {disableNameSuffixHash: true, labels: {gen: 'yes'}}\n"
            "transformers: [labels.yaml]\n"
        ),
        "settings.yaml": "podsPerRuntime: 2\nnested:\n  key: value\n",
        "other.txt": "plain text\n",
        "labels.yaml": (
            "apiVersion: builtin\nkind: LabelTransformer\nmetadata: {name: x}\n"
            "labels: {app.kubernetes.io/name: demo}\n"
            "fieldSpecs:\n- {path: metadata/labels, create: true}\n"
            "- {path: spec/template/metadata/labels, kind: Deployment, create: true}\n"
        ),
    },
}


def _tree(files: dict[str, str]) -> kustomize.FileTree:
    return kustomize.FileTree({"base.yaml": BASE, **files})


def _write(tree: kustomize.FileTree, root: Path) -> None:
    for path, value in tree.files.items():
        assert isinstance(value, str)
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(value)


@pytest.mark.parametrize("case", sorted(CASES))
def test_engine_agrees_with_kubectl_kustomize(case: str, tmp_path: Path) -> None:
    tree = _tree(CASES[case])
    ours = kustomize.build(tree)
    _write(tree, tmp_path)
    theirs = kubectl_kustomize(tmp_path)
    assert differences(ours, theirs) == []


def test_engine_never_mutates_its_input() -> None:
    parsed = kustomize.parse_documents("base.yaml", BASE)
    snapshot = kustomize.deep_copy({"items": parsed})
    for files in CASES.values():
        tree = kustomize.FileTree({"base.yaml": parsed, **files})
        kustomize.build(tree)
    assert {"items": parsed} == snapshot


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"kustomization.yaml": "resources: [base.yaml]\ncommonLabels: {a: b}\n"},
            "unsupported field 'commonLabels'",
        ),
        ({"kustomization.yaml": "resources: [nope.yaml]\n"}, "resource nope.yaml not found"),
        ({"kustomization.yaml": "resources: [../x.yaml]\n"}, "escapes the kustomization root"),
        (
            {
                "kustomization.yaml": "resources: [sub]\n",
                "sub/kustomization.yaml": "resources: [../base.yaml]\n",
            },
            "not in or below",
        ),
        (
            {
                "kustomization.yaml": "resources: [base.yaml]\npatches:\n- path: p.yaml\n",
                "p.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: nope, namespace: kserve}\n",
            },
            "no resource matches the strategic-merge patch",
        ),
        (
            {
                "kustomization.yaml": (
                    "resources: [base.yaml]\npatches:\n- target: {kind: Deployment}\n  patch: |-\n"
                    "    - {op: replace, path: /spec/nope/x, value: 1}\n"
                )
            },
            "Deployment/kserve/ctrl",
        ),
        ({"kustomization.yaml": "resources: [base.yaml, base.yaml]\n"}, "appears twice"),
        (
            {
                "kustomization.yaml": (
                    "resources: [base.yaml]\nvars:\n- name: X\n  objref: {kind: Service, name: nope}\n"
                )
            },
            "var X: no object match",
        ),
        (
            {
                "kustomization.yaml": "resources: [base.yaml]\nconfigMapGenerator:\n- {name: g, literals: [a=b]}\n"
            },
            "name hashes are not supported",
        ),
        (
            {
                "kustomization.yaml": "resources: [base.yaml]\ntransformers: [t.yaml]\n",
                "t.yaml": "apiVersion: builtin\nkind: PrefixSuffixTransformer\nmetadata: {name: t}\n",
            },
            "unsupported transformer PrefixSuffixTransformer",
        ),
    ],
)
def test_engine_errors_name_the_problem(files: dict[str, str], message: str) -> None:
    with pytest.raises(BuildError, match=message):
        kustomize.build(_tree(files))
