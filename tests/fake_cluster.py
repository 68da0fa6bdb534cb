"""A fake API server for orchestration tests: it behaves like kube-apiserver for the calls the
installer makes, in the ways the orchestration depends on.

- Custom kinds exist only once their CRD is Established (which takes a few GETs here, as it
  takes a moment on a real server); applying one earlier is a 404 like discovery gives.
- Server-side apply keeps field ownership per manager: fields another manager set survive an
  apply that does not mention them, and setting them to another value is a 409 unless forced.
- Admission webhooks can be made unreachable for the first N calls ('failed calling webhook').
- resourceVersion changes only when the stored content changes; DELETE of a missing object is 404.
The real server is exercised by tests/test_cluster.py when INSTALLER_TEST_KUBECONFIG is set.
"""

from __future__ import annotations

import copy
from typing import Any

from installer.cluster.client import ConflictError, NotFoundError, Ref, WebhookUnavailableError
from installer.objects import BUILTIN_GROUPS, Obj, group_of

Path = tuple[Any, ...]


def _leaves(node: Any, path: Path = ()) -> dict[Path, Any]:
    if isinstance(node, dict) and node:
        out: dict[Path, Any] = {}
        for k, v in node.items():
            out.update(_leaves(v, (*path, k)))
        return out
    if isinstance(node, list) and path == ("webhooks",):
        out = {}
        for i, v in enumerate(node):
            out.update(_leaves(v, (*path, i)))
        return out
    return {path: node}


def _set(root: dict[str, Any], path: Path, value: Any) -> None:
    node: Any = root
    for i, part in enumerate(path[:-1]):
        nxt = path[i + 1]
        if isinstance(part, int):
            while len(node) <= part:
                node.append({})
            node = node[part]
        else:
            if part not in node or not isinstance(node[part], dict | list):
                node[part] = [] if isinstance(nxt, int) else {}
            node = node[part]
    last = path[-1]
    if isinstance(last, int):
        while len(node) <= last:
            node.append(None)
    node[last] = copy.deepcopy(value)


def _remove(root: dict[str, Any], path: Path) -> None:
    node: Any = root
    for part in path[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(node, dict):
        node.pop(path[-1], None)


class FakeCluster:
    def __init__(
        self,
        establish_after: int = 2,
        webhook_failures: int = 0,
        cert_manager: bool = True,
        issue_after: int | None = None,
    ) -> None:
        self.cert_manager = cert_manager
        # As cert-manager's controller: a Certificate's Secret appears after this many reads of it
        # (None: nothing issues certificates).
        self.issue_after = issue_after
        self.unissued: dict[tuple[str, str, str, str], int] = {}
        self.objects: dict[tuple[str, str, str, str], Obj] = {}
        self.owners: dict[tuple[str, str, str, str], dict[Path, str]] = {}
        self.calls: list[tuple[str, str]] = []
        self.establish_after = establish_after
        self.pending: dict[str, int] = {}
        self.webhook_failures = webhook_failures
        self.rv = 0

    # -- helpers
    @staticmethod
    def _key(ref: Ref) -> tuple[str, str, str, str]:
        group = ref.api_version.split("/", 1)[0] if "/" in ref.api_version else ""
        return group, ref.kind, ref.namespace, ref.name

    def _known(self, api_version: str, kind: str) -> bool:
        group = api_version.split("/", 1)[0] if "/" in api_version else ""
        if group in BUILTIN_GROUPS and (group != "cert-manager.io" or self.cert_manager):
            return True
        for (_, k, _, name), crd in self.objects.items():
            if k != "CustomResourceDefinition" or self.pending.get(name, 0) > 0:
                continue
            spec = crd.get("spec") or {}
            versions = {v["name"] for v in spec.get("versions") or []}
            if (
                spec.get("group") == group
                and spec.get("names", {}).get("kind") == kind
                and api_version.split("/")[-1] in versions
            ):
                return True
        return False

    def _webhook_covers(self, obj: Obj) -> str | None:
        for (_, kind, _, name), hook in self.objects.items():
            if kind != "ValidatingWebhookConfiguration":
                continue
            for w in hook.get("webhooks") or []:
                for rule in w.get("rules") or []:
                    if group_of(obj) in rule.get("apiGroups", []):
                        return str(w.get("name", name))
        return None

    # -- the Cluster interface
    def get(self, ref: Ref) -> Obj | None:
        self.calls.append(("get", str(ref)))
        key = self._key(ref)
        if ref.kind == "CustomResourceDefinition" and ref.name in self.pending and key in self.objects:
            self.pending[ref.name] -= 1
            if self.pending[ref.name] <= 0:
                del self.pending[ref.name]
                self.objects[key]["status"] = {"conditions": [{"type": "Established", "status": "True"}]}
        if key in self.unissued:
            self.unissued[key] -= 1
            if self.unissued[key] <= 0:
                del self.unissued[key]
                self.objects[key] = {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": ref.name, "namespace": ref.namespace, "resourceVersion": "1"},
                    "type": "kubernetes.io/tls",
                    "data": {"tls.crt": "LS0t", "tls.key": "LS0t"},
                }
        obj = self.objects.get(key)
        return copy.deepcopy(obj) if obj is not None else None

    def apply(
        self, obj: Obj, *, force: bool = False, dry_run: bool = False, manager: str = "kserve-installer"
    ) -> Obj:
        ref = Ref.of(obj)
        self.calls.append(("dry-run" if dry_run else "apply", str(ref)))
        if not self._known(ref.api_version, ref.kind):
            raise NotFoundError(f"apply {ref}: the server could not find the requested resource", 404)
        if group_of(obj) not in BUILTIN_GROUPS:
            hook = self._webhook_covers(obj)
            if hook and self.webhook_failures > 0:
                self.webhook_failures -= 1
                raise WebhookUnavailableError(f'failed calling webhook "{hook}": connection refused', hook)
        key = self._key(ref)
        current = copy.deepcopy(self.objects.get(key) or {})
        owners = dict(self.owners.get(key, {}))
        wanted = _leaves({k: v for k, v in obj.items() if k != "status"})
        for path, value in wanted.items():
            owner = owners.get(path)
            if owner and owner != manager and _leaves(current).get(path) != value and not force:
                raise ConflictError(f'apply {ref}: conflict with "{owner}": {".".join(map(str, path))}', 409)
        for path, owner in list(owners.items()):
            if owner == manager and path not in wanted:
                _remove(current, path)
                del owners[path]
        for path, value in wanted.items():
            _set(current, path, value)
            owners[path] = manager
        before = self.objects.get(key)
        comparable_before = {k: v for k, v in (before or {}).items()}
        if before is not None:
            current.setdefault("metadata", {})["resourceVersion"] = before["metadata"]["resourceVersion"]
        if before is None or current != comparable_before:
            self.rv += 1
            current.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
        if dry_run:
            return copy.deepcopy(current)
        if before is None and ref.kind == "CustomResourceDefinition":
            self.pending[ref.name] = self.establish_after
        secret_name = (obj.get("spec") or {}).get("secretName")
        if ref.kind == "Certificate" and self.issue_after is not None and secret_name:
            secret = self._key(Ref("v1", "Secret", secret_name, ref.namespace))
            if secret not in self.objects:
                self.unissued[secret] = self.issue_after
        self.objects[key] = current
        self.owners[key] = owners
        return copy.deepcopy(current)

    def delete(self, ref: Ref) -> bool:
        self.calls.append(("delete", str(ref)))
        key = self._key(ref)
        if key not in self.objects:
            return False
        del self.objects[key]
        self.owners.pop(key, None)
        return True

    def list(self, api_version: str, kind: str, namespace: str = "") -> list[Obj]:
        self.calls.append(("list", kind))
        if not self._known(api_version, kind):
            return []
        group = api_version.split("/", 1)[0] if "/" in api_version else ""
        return [
            copy.deepcopy(o)
            for (g, k, ns, _), o in self.objects.items()
            if g == group and k == kind and (not namespace or ns == namespace)
        ]

    def resource_versions(
        self, api_version: str, kind: str, label_selector: str
    ) -> dict[tuple[str, str], str]:
        self.calls.append(("list-metadata", kind))
        key, _, value = label_selector.partition("=")
        return {
            (str(o["metadata"].get("namespace") or ""), str(o["metadata"]["name"])): str(
                o["metadata"]["resourceVersion"]
            )
            for o in self.list(api_version, kind)
            if (o["metadata"].get("labels") or {}).get(key) == value
        }
