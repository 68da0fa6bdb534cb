"""The inventory: what an install applied, kept on the cluster as an ApplySet (KEP-3659).

The parent is the ConfigMap ``kserve-installer-inventory`` in the install namespace, shaped as
kubectl's ApplySet parents are: label ``applyset.kubernetes.io/id`` (kubectl's ID: ``applyset-``,
base64url of sha256 of ``<name>.<namespace>.<kind>.<group>``, ``-v1``), annotations
``applyset.kubernetes.io/tooling: kserve-installer/<version>``,
``applyset.kubernetes.io/contains-group-kinds`` and ``additional-namespaces``; every member
carries ``applyset.kubernetes.io/part-of=<id>`` (added by :func:`installer.cluster.bodies.prepare`).
So ``kubectl get <kinds> -l applyset.kubernetes.io/part-of=<id>`` lists the install, and kubectl
refuses to prune it as its own (the tooling differs).

What deploy needs beyond the member list lives in the parent's data: each object's body digest
and resourceVersion (the redeploy fast path), version, mode, parameters digest, the namespaces the
installer created, and the labels-only objects (namespaces it labels but does not own).

Objects are keyed by :class:`~installer.objects.ObjectKey` (group, kind, namespace, name). The
inventory of earlier releases (no ``format`` key, digests keyed without the group) is read and
rewritten in this format by the next deploy.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from installer import __version__, jsonio
from installer.cluster.bodies import INSTANCE, MANAGED_BY, TOOL
from installer.cluster.client import Cluster, Ref
from installer.objects import Obj, ObjectKey

INVENTORY = "kserve-installer-inventory"
APPLYSET_ID = "applyset.kubernetes.io/id"
TOOLING = "applyset.kubernetes.io/tooling"
CONTAINS_GROUP_KINDS = "applyset.kubernetes.io/contains-group-kinds"
ADDITIONAL_NAMESPACES = "applyset.kubernetes.io/additional-namespaces"
FORMAT = "applyset-v1"


def applyset_id(namespace: str, name: str = INVENTORY, kind: str = "ConfigMap", group: str = "") -> str:
    """The ApplySet ID kubectl computes for a parent object (kubectl's ``ApplySet.ID()``)."""
    unencoded = ".".join([name, namespace, kind, group])
    hashed = hashlib.sha256(unencoded.encode()).digest()
    return f"applyset-{base64.urlsafe_b64encode(hashed).decode().rstrip('=')}-v1"


def group_kind(key: ObjectKey) -> str:
    """``Kind.group`` (``Kind`` for the core group), as in ``contains-group-kinds``."""
    return f"{key.kind}.{key.group}" if key.group else key.kind


@dataclass(frozen=True)
class Inventory:
    """What an install applied, as recorded in the cluster."""

    refs: list[Ref]
    version: str = ""
    mode: str = ""
    params_digest: str = ""
    created_namespaces: tuple[str, ...] = ()
    labels_only: tuple[Ref, ...] = ()
    digests: dict[ObjectKey, str] = field(default_factory=dict)
    versions: dict[ObjectKey, str] = field(default_factory=dict)
    format: str = FORMAT  # the format it was read in; an older one is rewritten by the next deploy

    def created(self, namespace: str) -> bool:
        return namespace in self.created_namespaces

    @property
    def keys(self) -> set[ObjectKey]:
        return {r.key for r in self.refs}

    def parent(self, namespace: str, instance: str) -> Obj:
        """The ApplySet parent ConfigMap that records this inventory."""
        set_id = applyset_id(namespace)
        others = sorted({r.namespace for r in self.refs if r.namespace and r.namespace != namespace})
        annotations = {
            TOOLING: f"{TOOL}/{__version__}",
            CONTAINS_GROUP_KINDS: ",".join(sorted({group_kind(r.key) for r in self.refs})),
        }
        if others:
            annotations[ADDITIONAL_NAMESPACES] = ",".join(others)
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": INVENTORY,
                "namespace": namespace,
                "labels": {MANAGED_BY: TOOL, INSTANCE: instance, APPLYSET_ID: set_id},
                "annotations": annotations,
            },
            "data": {
                "format": FORMAT,
                "objects": _dumps([r.to_dict() for r in self.refs]),
                "version": self.version,
                "mode": self.mode,
                "parametersDigest": self.params_digest,
                "createdNamespaces": _dumps(sorted(self.created_namespaces)),
                "labelsOnly": _dumps([r.to_dict() for r in self.labels_only]),
                "digests": _dumps({k.id: v for k, v in sorted(self.digests.items())}),
                "resourceVersions": _dumps({k.id: v for k, v in sorted(self.versions.items())}),
            },
        }

    @classmethod
    def from_parent(cls, cm: Obj) -> Inventory:
        """Read a parent written by this release or an earlier one."""
        data = cm.get("data") or {}
        refs = _refs(data.get("objects"))
        created = [str(n) for n in jsonio.loads(data.get("createdNamespaces") or "[]")]
        if data.get("createdNamespace") == "true":  # the first format: only the install namespace
            created.append(str((cm.get("metadata") or {}).get("namespace")))
        fmt = str(data.get("format") or "")
        digests = _keyed(data.get("digests"), refs, fmt)
        versions = _keyed(data.get("resourceVersions"), refs, fmt)
        return cls(
            refs,
            str(data.get("version", "")),
            str(data.get("mode", "")),
            str(data.get("parametersDigest", "")),
            tuple(created),
            tuple(_refs(data.get("labelsOnly"))),
            digests,
            versions,
            fmt,
        )


def _dumps(value: object) -> str:
    return jsonio.dumps(value).decode()


def _refs(raw_json: str | None) -> list[Ref]:
    raw = jsonio.loads(raw_json or "[]")
    return [Ref(r["apiVersion"], r["kind"], r["name"], r.get("namespace", "")) for r in raw]


def _keyed(raw_json: str | None, refs: Iterable[Ref], fmt: str) -> dict[ObjectKey, str]:
    """Digests or resourceVersions by key. Before ApplySets they were keyed ``Kind/ns/name``
    (no group): each is matched to its object by that form; an ambiguous one is dropped (the
    object is then read once more, which is all a missing digest costs)."""
    raw: dict[str, str] = dict(jsonio.loads(raw_json or "{}"))
    if fmt == FORMAT:
        return {ObjectKey.parse(k): str(v) for k, v in raw.items()}
    by_old: dict[str, list[ObjectKey]] = {}
    for ref in refs:
        by_old.setdefault(str(ref.key), []).append(ref.key)
    return {keys[0]: str(raw[old]) for old, keys in by_old.items() if old in raw and len(keys) == 1}


def read_inventory(cluster: Cluster, namespace: str) -> Inventory | None:
    cm = cluster.get(Ref("v1", "ConfigMap", INVENTORY, namespace))
    return Inventory.from_parent(cm) if cm else None


def write_inventory(cluster: Cluster, inventory: Inventory, namespace: str, instance: str) -> None:
    # force: the inventory is ours alone; a stale co-owner must not block recording an install.
    cluster.apply(inventory.parent(namespace, instance), force=True)
