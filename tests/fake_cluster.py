"""A fake API server for orchestration tests: it behaves like kube-apiserver for the calls the
installer makes, in the ways the orchestration depends on. Each behaviour it stands in for is
also tested against a real API server in tests/test_cluster.py (named in brackets).

- Custom kinds exist only once their CRD is Established (which takes a few GETs here, as it
  takes a moment on a real server; at once with ``establish_after=0``, which the watch then
  shows); applying one earlier is a 404 like discovery gives.
  [test_crds_are_established_before_their_custom_resources]
- Server-side apply keeps field ownership per manager: a field set to the same value by two
  managers is co-owned and survives when one of them stops applying it; setting a field another
  manager owns to another value is a 409 naming that manager unless forced. List entries of
  ``webhooks`` are matched by name, as the API's list-map keys them.
  [test_conflict_names_object_and_field_and_force_takes_ownership, test_injected_ca_bundle_is_kept]
- Dry run changes nothing, not even resourceVersion. [test_dry_run_changes_nothing]
- resourceVersion changes only when the stored content changes; DELETE of a missing object is a
  404; a redeploy can read resourceVersions with a metadata-only list.
  [test_redeploy_fast_path_on_a_real_server]
- Immutable fields (RBAC roleRef, workload selectors, Service clusterIP, Job template, CRD
  scope) are refused with the 422 Status the server sends. [test_immutable_fields_are_replaced]
- CRDs keep status.storedVersions, and an update that drops a listed version is refused.
  [test_stored_versions_guard_refuses_before_anything_is_applied]
- Conversion webhooks: an object stored in another version than the one read (or than the
  storage version, for writes and deletes) needs its CRD's conversion webhook, which can be made
  unreachable for the first N calls. [test_upgrade_chain]
- Admission webhooks can be made unreachable for the first N calls ('failed calling webhook').
  [test_webhook_retries_until_it_answers]
- Deleted CRDs and namespaces can stay terminating for a few reads (a namespace's contents and
  a CRD's objects go with them); creating in a terminating namespace is refused.
  [test_undeploy_waits_then_deploy_works_five_times]
"""

from __future__ import annotations

import copy
import functools
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from installer.cluster.client import Ref, status_error
from installer.errors import ConflictError, NotFoundError, WebhookUnavailableError
from installer.objects import BUILTIN_GROUPS, Obj, ObjectKey, group_of

Path = tuple[Any, ...]
_T = TypeVar("_T")
MAP_LISTS = {("webhooks",): "name"}  # list-map keys, as server-side apply merges them
IMMUTABLE: dict[tuple[str, str], tuple[Path, ...]] = {
    ("rbac.authorization.k8s.io", "RoleBinding"): (("roleRef",),),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): (("roleRef",),),
    ("apps", "Deployment"): (("spec", "selector"),),
    ("apps", "DaemonSet"): (("spec", "selector"),),
    ("", "Service"): (("spec", "clusterIP"),),
    ("batch", "Job"): (("spec", "template"),),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): (("spec", "scope"),),
}


def _leaves(node: Any, path: Path = ()) -> dict[Path, Any]:
    if isinstance(node, dict) and node:
        out: dict[Path, Any] = {}
        for k, v in node.items():
            out.update(_leaves(v, (*path, k)))
        return out
    if isinstance(node, list) and path in MAP_LISTS:
        key = MAP_LISTS[path]
        out = {}
        for item in node:
            out.update(_leaves(item, (*path, (key, item.get(key)))))
        return out
    return {path: node}


def _child(node: Any, part: Any, create: bool) -> Any:
    if isinstance(part, tuple):  # a list-map entry, by its key
        key, value = part
        for item in node:
            if isinstance(item, dict) and item.get(key) == value:
                return item
        if not create:
            return None
        node.append({key: value})
        return node[-1]
    if create and not isinstance(node.get(part), dict | list):
        node[part] = {}
    return node.get(part)


def _set(root: dict[str, Any], path: Path, value: Any) -> None:
    node: Any = root
    for i, part in enumerate(path[:-1]):
        if (
            not isinstance(part, tuple)
            and isinstance(path[i + 1], tuple)
            and not isinstance(node.get(part), list)
        ):
            node[part] = []
        node = _child(node, part, True)
    node[path[-1]] = copy.deepcopy(value)


def _remove(root: dict[str, Any], path: Path) -> None:
    """Drop one leaf; list-map entries and maps left empty go too (their key field alone does
    not keep an entry)."""
    trail: list[tuple[Any, Any]] = []
    node: Any = root
    for part in path[:-1]:
        trail.append((node, part))
        node = _child(node, part, False) if isinstance(node, dict | list) else None
        if node is None:
            return
    is_key = len(path) > 1 and isinstance(path[-2], tuple) and path[-1] == path[-2][0]
    if isinstance(node, dict) and not is_key:
        node.pop(path[-1], None)
    for parent, part in reversed(trail):
        child = _child(parent, part, False)
        emptied = child in ({}, [], None) or (isinstance(part, tuple) and child == {part[0]: part[1]})
        if not emptied:
            break
        if isinstance(part, tuple):
            parent.remove(child)
        else:
            parent.pop(part, None)


def _storage(crd: Obj) -> str:
    return next((v["name"] for v in crd["spec"].get("versions") or [] if v.get("storage")), "")


def _status(code: int, reason: str, message: str, causes: list[dict[str, str]] | None = None) -> str:
    body = {"kind": "Status", "status": "Failure", "code": code, "reason": reason, "message": message}
    if causes:
        body["details"] = {"causes": causes}
    return json.dumps(body)


class _Store(dict[ObjectKey, Obj]):
    """Objects by key; tests may index it with plain (group, kind, namespace, name) tuples."""

    def __setitem__(self, key: tuple[str, str, str, str], value: Obj) -> None:
        super().__setitem__(ObjectKey(*key), value)

    def __getitem__(self, key: tuple[str, str, str, str]) -> Obj:
        return super().__getitem__(ObjectKey(*key))


def _serialized(method: Callable[..., _T]) -> Callable[..., _T]:
    """One call at a time, as the real server's storage is consistent under concurrent requests:
    deploy applies a phase's objects from several threads."""

    @functools.wraps(method)
    def locked(self: FakeCluster, *args: Any, **kwargs: Any) -> _T:
        with self.lock:
            return method(self, *args, **kwargs)

    return locked


class FakeCluster:
    def __init__(
        self,
        establish_after: int = 2,
        webhook_failures: int = 0,
        cert_manager: bool = True,
        issue_after: int | None = None,
        finalize_after: int = 0,
        conversion_failures: int = 0,
    ) -> None:
        self.lock = threading.RLock()
        self.cert_manager = cert_manager
        # As cert-manager's controller: a Certificate's Secret appears after this many reads of it
        # (None: nothing issues certificates).
        self.issue_after = issue_after
        self.unissued: dict[ObjectKey, int] = {}
        self.objects = _Store()
        self.owners: dict[ObjectKey, dict[Path, set[str]]] = {}
        self.stored_at: dict[ObjectKey, str] = {}  # custom resources: the version they are stored in
        self.calls: list[tuple[str, str]] = []
        self.metadata_answers: list[str] = []  # applies answered with metadata only
        self.establish_after = establish_after
        self.pending: dict[str, int] = {}
        self.webhook_failures = webhook_failures
        self.conversion_failures = conversion_failures
        # As a server still validating against a CRD's old schema: this many applies of custom
        # resources of a kind are refused as invalid (422), kind -> count.
        self.stale_schema: dict[str, int] = {}
        # As the namespace and garbage collector controllers: a deleted Namespace or CRD stays
        # terminating for this many reads of it.
        self.finalize_after = finalize_after
        self.terminating: dict[ObjectKey, int] = {}
        # Stand-ins for controllers: each is called with a stored object when it is read.
        self.controllers: list[Callable[[Obj], None]] = []
        self.rv = 0

    # -- helpers
    @staticmethod
    def _key(ref: Ref) -> ObjectKey:
        return ref.key

    def _crd_of(self, group: str, kind: str) -> Obj | None:
        for key, crd in self.objects.items():
            if key.kind != "CustomResourceDefinition" or self.pending.get(key.name, 0) > 0:
                continue
            spec = crd.get("spec") or {}
            if spec.get("group") == group and (spec.get("names") or {}).get("kind") == kind:
                return crd
        return None

    def _known(self, api_version: str, kind: str) -> bool:
        group = api_version.split("/", 1)[0] if "/" in api_version else ""
        if group in BUILTIN_GROUPS and (group != "cert-manager.io" or self.cert_manager):
            return True
        crd = self._crd_of(group, kind)
        versions = {
            v["name"] for v in (crd or {}).get("spec", {}).get("versions") or [] if v.get("served", True)
        }
        return api_version.split("/")[-1] in versions

    def _convert(self, key: ObjectKey, wanted: str | None) -> None:
        """Raise as the server does when converting the stored object needs a webhook that does
        not answer. ``wanted``: the version read; None for a write (decoded to storage)."""
        crd = self._crd_of(key.group, key.kind)
        if crd is None or key not in self.stored_at:
            return
        if ((crd["spec"].get("conversion") or {}).get("strategy")) != "Webhook":
            return
        stored = self.stored_at[key]
        if stored == (wanted or _storage(crd)):
            return
        if self.conversion_failures > 0:
            self.conversion_failures -= 1
            message = (
                f"conversion webhook for {key.group}/{stored}, Kind={key.kind} failed: Post "
                '"https://converter.svc:443/convert": no endpoints available'
            )
            raise status_error(500, _status(500, "InternalError", message), str(key))

    def _webhook_covers(self, obj: Obj) -> str | None:
        for key, hook in self.objects.items():
            if key.kind != "ValidatingWebhookConfiguration":
                continue
            for w in hook.get("webhooks") or []:
                for rule in w.get("rules") or []:
                    if group_of(obj) in rule.get("apiGroups", []):
                        return str(w.get("name", key.name))
        return None

    def _finalize(self, key: ObjectKey) -> None:
        """Gone for good; a namespace's contents and a CRD's objects go with it."""
        obj = self.objects.pop(key, None) or {}
        self.owners.pop(key, None)
        self.stored_at.pop(key, None)
        self.terminating.pop(key, None)
        if key.kind == "Namespace":
            for inside in [k for k in self.objects if k.namespace == key.name]:
                self._finalize(inside)
        if key.kind == "CustomResourceDefinition":
            spec = obj.get("spec") or {}
            kind = (spec.get("names") or {}).get("kind")
            for cr in [k for k in self.objects if k.group == spec.get("group") and k.kind == kind]:
                self._finalize(cr)

    def _tick(self, key: ObjectKey, ref: Ref) -> None:
        """What controllers do between two reads: establish, issue, finalize, report status."""
        if key.kind == "CustomResourceDefinition" and key.name in self.pending and key in self.objects:
            self.pending[key.name] -= 1
            if self.pending[key.name] <= 0:
                del self.pending[key.name]
                status = self.objects[key].setdefault("status", {})
                status["conditions"] = [{"type": "Established", "status": "True"}]
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
        if key in self.terminating:
            self.terminating[key] -= 1
            if self.terminating[key] <= 0:
                self._finalize(key)
        if key in self.objects:
            for controller in self.controllers:
                controller(self.objects[key])

    # -- the Cluster interface
    @_serialized
    def serves(self, api_version: str, kind: str) -> bool:
        self.calls.append(("discover", kind))
        return self._known(api_version, kind)

    @_serialized
    def get(self, ref: Ref) -> Obj | None:
        self.calls.append(("get", str(ref)))
        key = self._key(ref)
        self._tick(key, ref)
        if key in self.objects:
            self._convert(key, ref.api_version.split("/")[-1])
        obj = self.objects.get(key)
        return self._as(obj, ref.api_version) if obj is not None else None

    def _as(self, obj: Obj, api_version: str) -> Obj:
        """A copy as read at ``api_version`` (a custom resource is converted to it)."""
        out = copy.deepcopy(obj)
        if group_of(obj) not in BUILTIN_GROUPS:
            out["apiVersion"] = api_version
        return out

    def _admit(self, obj: Obj, ref: Ref) -> None:
        if not self._known(ref.api_version, ref.kind):
            raise NotFoundError(f"apply {ref}: the server could not find the requested resource", 404)
        ns = self.objects.get(ObjectKey("", "Namespace", "", ref.namespace)) if ref.namespace else None
        if ns is not None and ns["metadata"].get("deletionTimestamp"):
            message = f'namespaces "{ref.namespace}" is forbidden: unable to create new content in namespace {ref.namespace} because it is being terminated'
            raise status_error(403, _status(403, "Forbidden", message), f"apply {ref}")
        if group_of(obj) not in BUILTIN_GROUPS:
            hook = self._webhook_covers(obj)
            if hook and self.webhook_failures > 0:
                self.webhook_failures -= 1
                raise WebhookUnavailableError(f'failed calling webhook "{hook}": connection refused', hook)
            if self.stale_schema.get(ref.kind, 0) > 0:
                self.stale_schema[ref.kind] -= 1
                field = "spec.containers[0].name"
                message = f'{ref.kind}.{ref.group} "{ref.name}" is invalid: {field}: Invalid value: "x": should match \'^[a-z]+$\''
                cause = {"reason": "FieldValueInvalid", "message": 'Invalid value: "x"', "field": field}
                raise status_error(422, _status(422, "Invalid", message, [cause]), f"apply {ref}")

    def _merge(self, obj: Obj, key: ObjectKey, manager: str, force: bool) -> tuple[Obj, dict[Path, set[str]]]:
        """Server-side apply's merge: co-ownership of equal values, conflicts, released fields."""
        current = copy.deepcopy(self.objects.get(key) or {})
        owners = {p: set(m) for p, m in self.owners.get(key, {}).items()}
        live = _leaves({k: v for k, v in current.items() if k != "status"})
        wanted = _leaves({k: v for k, v in obj.items() if k != "status"})
        conflicts = {
            path: sorted(others)
            for path, value in wanted.items()
            if (others := owners.get(path, set()) - {manager}) and live.get(path) != value
        }
        if conflicts and not force:
            path, who = next(iter(conflicts.items()))
            field = ".".join(str(p[1]) if isinstance(p, tuple) else str(p) for p in path)
            raise ConflictError(
                f'apply {Ref.of(obj)}: Apply failed with {len(conflicts)} conflict: conflict with "{who[0]}": .{field}',
                409,
            )
        for path in conflicts:
            owners[path] = set()  # forced: the others lose these fields
        for path, managers in list(owners.items()):
            if manager in managers and path not in wanted:
                managers.discard(manager)
                if not managers:
                    _remove(current, path)
                    del owners[path]
        for path, value in wanted.items():
            _set(current, path, value)
            owners.setdefault(path, set()).add(manager)
        return current, owners

    def _validate(self, key: ObjectKey, before: Obj | None, after: Obj, what: str) -> None:
        """The server's own refusals: immutable fields, CRD versions still stored."""
        for path in IMMUTABLE.get((key.group, key.kind), ()) if before else ():
            old, new = _leaves(before or {}), _leaves(after)
            changed = [p for p in set(old) | set(new) if p[: len(path)] == path and old.get(p) != new.get(p)]
            if changed and any(p[: len(path)] == path for p in old):
                field = ".".join(path)
                message = "cannot change roleRef" if field == "roleRef" else "field is immutable"
                cause = {
                    "reason": "FieldValueInvalid",
                    "message": f"Invalid value: ...: {message}",
                    "field": field,
                }
                raise status_error(
                    422,
                    _status(
                        422, "Invalid", f"{key.kind} {key.name!r} is invalid: {field}: {message}", [cause]
                    ),
                    what,
                )
        if key.kind == "CustomResourceDefinition":
            stored = ((before or {}).get("status") or {}).get("storedVersions") or []
            served = {v["name"] for v in after["spec"].get("versions") or []}
            for i, version in enumerate(stored):
                if version not in served:
                    message = f"status.storedVersions[{i}]: Invalid value: {version!r}: must appear in spec.versions"
                    cause = {
                        "reason": "FieldValueInvalid",
                        "message": message,
                        "field": f"status.storedVersions[{i}]",
                    }
                    raise status_error(422, _status(422, "Invalid", message, [cause]), what)

    @_serialized
    def apply(
        self,
        obj: Obj,
        *,
        force: bool = False,
        dry_run: bool = False,
        metadata_only: bool = False,
        manager: str = "kserve-installer",
    ) -> Obj:
        ref = Ref.of(obj)
        self.calls.append(("dry-run" if dry_run else "apply", str(ref)))
        answer = self._apply(obj, ref, force, dry_run, manager)
        if metadata_only:  # as the server answers Accept: ...;as=PartialObjectMetadata
            self.metadata_answers.append(str(ref))
            return {
                "apiVersion": "meta.k8s.io/v1",
                "kind": "PartialObjectMetadata",
                "metadata": answer["metadata"],
            }
        return answer

    def _apply(self, obj: Obj, ref: Ref, force: bool, dry_run: bool, manager: str) -> Obj:
        self._admit(obj, ref)
        key = self._key(ref)
        before = self.objects.get(key)
        if before is not None:
            self._convert(key, None)
        elif key.group not in BUILTIN_GROUPS and (crd := self._crd_of(key.group, key.kind)):
            self._convert_create(key, ref, crd)
        current, owners = self._merge(obj, key, manager, force)
        self._validate(key, before, current, f"apply {ref}")
        return self._store(key, before, current, owners, dry_run)

    def _convert_create(self, key: ObjectKey, ref: Ref, crd: Obj) -> None:
        version = ref.api_version.split("/")[-1]
        if version != _storage(crd):
            self.stored_at[key] = version  # what converting it to the storage version needs
            try:
                self._convert(key, _storage(crd))
            finally:
                del self.stored_at[key]

    def _store(
        self, key: ObjectKey, before: Obj | None, current: Obj, owners: dict[Path, set[str]], dry_run: bool
    ) -> Obj:
        def bare(o: Obj | None) -> Obj:
            meta = {k: v for k, v in ((o or {}).get("metadata") or {}).items() if k != "resourceVersion"}
            return {**(o or {}), "metadata": meta}

        if key.group not in BUILTIN_GROUPS and (crd := self._crd_of(key.group, key.kind)):
            current["apiVersion"] = f"{key.group}/{_storage(crd)}"  # stored in the storage version
        changed = before is None or bare(current) != bare(before)
        rv = (before or {}).get("metadata", {}).get("resourceVersion")
        if dry_run:  # nothing stored, nothing bumped (a created object has no resourceVersion yet)
            out = copy.deepcopy(current)
            out.setdefault("metadata", {}).pop("resourceVersion", None)
            if rv:
                out["metadata"]["resourceVersion"] = rv
            return out
        if changed:
            self.rv += 1
            rv = str(self.rv)
        current.setdefault("metadata", {})["resourceVersion"] = rv
        self._created(key, before, current)
        self.objects[key] = current
        self.owners[key] = owners
        return copy.deepcopy(current)

    def _created(self, key: ObjectKey, before: Obj | None, current: Obj) -> None:
        """Bookkeeping the server does on a write: CRDs established, stored versions, secrets."""
        if key.kind == "CustomResourceDefinition":
            status = current.setdefault("status", {})
            if before is None and self.establish_after > 0:
                self.pending[key.name] = self.establish_after
            elif before is None:  # established at once: the next read or watch event says so
                status["conditions"] = [{"type": "Established", "status": "True"}]
            stored = list(status.get("storedVersions") or [])
            if _storage(current) not in stored:
                stored.append(_storage(current))
            status["storedVersions"] = stored
        elif key.group not in BUILTIN_GROUPS:
            self.stored_at[key] = current["apiVersion"].split("/")[-1]
        secret_name = (current.get("spec") or {}).get("secretName")
        if key.kind == "Certificate" and self.issue_after is not None and secret_name:
            secret = ObjectKey("", "Secret", key.namespace, secret_name)
            if secret not in self.objects:
                self.unissued[secret] = self.issue_after

    @_serialized
    def update(self, obj: Obj) -> Obj:
        ref = Ref.of(obj)
        self.calls.append(("update", str(ref)))
        key = self._key(ref)
        before = self.objects.get(key)
        if before is None:
            raise NotFoundError(f"update {ref}: not found", 404)
        current = {k: copy.deepcopy(v) for k, v in obj.items() if k != "status"}
        current["status"] = copy.deepcopy(before.get("status") or {})
        self.stored_at.pop(key, None)
        return self._store(key, before, current, self.owners.get(key, {}), False)

    @_serialized
    def patch_status(self, ref: Ref, status: Obj) -> Obj:
        self.calls.append(("patch-status", str(ref)))
        key = self._key(ref)
        obj = self.objects[key]
        stored = status.get("storedVersions") or []
        versions = {v["name"] for v in obj["spec"].get("versions") or []}
        if not stored or _storage(obj) not in stored or any(v not in versions for v in stored):
            message = f"status.storedVersions: Invalid value: {stored!r}: must have the storage version and appear in spec.versions"
            raise status_error(422, _status(422, "Invalid", message), f"patch the status of {ref}")
        obj.setdefault("status", {}).update(copy.deepcopy(status))
        return copy.deepcopy(obj)

    @_serialized
    def delete_dry_run(self, ref: Ref) -> bool:
        """DELETE with dryRun=All: answered as a delete would be, nothing deleted."""
        self.calls.append(("dry-run-delete", str(ref)))
        key = self._key(ref)
        if key not in self.objects:
            return False
        self._convert(key, None)
        return True

    @_serialized
    def delete(self, ref: Ref) -> bool:
        self.calls.append(("delete", str(ref)))
        key = self._key(ref)
        if key not in self.objects:
            return False
        self._convert(key, None)
        if key.kind in ("Namespace", "CustomResourceDefinition") and self.finalize_after > 0:
            self.objects[key]["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
            self.terminating.setdefault(key, self.finalize_after)
            return True
        self._finalize(key)
        return True

    @_serialized
    def list(self, api_version: str, kind: str, namespace: str = "") -> list[Obj]:
        self.calls.append(("list", kind))
        if not self._known(api_version, kind):
            return []
        group = api_version.split("/", 1)[0] if "/" in api_version else ""
        found = [
            k
            for k in self.objects
            if k.group == group and k.kind == kind and (not namespace or k.namespace == namespace)
        ]
        for key in found:
            self._convert(key, api_version.split("/")[-1])
        return [self._as(self.objects[k], api_version) for k in found]

    def watch_crds(self, label_selector: str, since: str, timeout: float) -> Iterator[Obj]:
        """The CRDs with these labels as they are now, then the watch ends (as a server's does
        at its timeout): what changes later is for the polls to see, a read at a time. Each
        has what the server's protobuf watch is read for, and nothing else."""
        self.calls.append(("watch", "CustomResourceDefinition"))
        key, _, value = label_selector.partition("=")
        for o in self.list("apiextensions.k8s.io/v1", "CustomResourceDefinition"):
            if (o["metadata"].get("labels") or {}).get(key) == value:
                meta = o["metadata"]
                yield {
                    "metadata": {"name": meta["name"], "resourceVersion": meta.get("resourceVersion")},
                    "status": {"conditions": (o.get("status") or {}).get("conditions") or []},
                }

    @_serialized
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
