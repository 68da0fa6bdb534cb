"""What is sent to the API server for a rendered object, and how results are compared.

The render is not changed: labels are added here, at apply time, so ``installer render`` writes
the same bytes whatever the cluster. Every object gets the managed-by and instance labels and the
ApplySet member label (``applyset.kubernetes.io/part-of``); fields other controllers own are never
set: ``caBundle`` (injected by cert-manager's cainjector) is removed from webhooks and CRD
conversion, so a redeploy neither fights the injector nor reports a change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from installer import jsonio
from installer.cluster.client import Ref
from installer.objects import Obj, is_labels_only

MANAGED_BY = "app.kubernetes.io/managed-by"
INSTANCE = "installer.kserve.io/instance"
PART_OF = "applyset.kubernetes.io/part-of"
TOOL = "kserve-installer"
WEBHOOK_CONFIGURATIONS = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")


def our_labels(instance: str, applyset: str) -> dict[str, str]:
    return {MANAGED_BY: TOOL, INSTANCE: instance, PART_OF: applyset}


def prepare(obj: Obj, instance: str, applyset: str) -> Obj:
    """Labels added, injected fields removed; the rendered object itself is not changed.

    A labels-only object (an existing namespace the installer labels) is reduced to its labels:
    server-side apply then owns those labels and nothing else of it, and it is no ApplySet member.
    """
    if is_labels_only(obj):
        return labels_body(obj)
    meta = dict(obj.get("metadata") or {})
    meta["labels"] = {**(meta.get("labels") or {}), **our_labels(instance, applyset)}
    out = {**obj, "metadata": meta}
    kind = obj.get("kind")
    if kind in WEBHOOK_CONFIGURATIONS:
        out["webhooks"] = [
            {**w, "clientConfig": {k: v for k, v in (w.get("clientConfig") or {}).items() if k != "caBundle"}}
            for w in obj.get("webhooks") or []
        ]
    elif kind == "CustomResourceDefinition":
        conv = ((obj.get("spec") or {}).get("conversion") or {}).get("webhook")
        if isinstance(conv, dict) and "caBundle" in (conv.get("clientConfig") or {}):
            cc = {k: v for k, v in conv["clientConfig"].items() if k != "caBundle"}
            out["spec"] = {
                **obj["spec"],
                "conversion": {**obj["spec"]["conversion"], "webhook": {**conv, "clientConfig": cc}},
            }
    return out


def labels_body(obj: Obj, labels: dict[str, str] | None = None) -> Obj:
    """The apply body that owns only ``labels`` of an object (none: releases every label we own)."""
    meta = obj.get("metadata") or {}
    body = Ref.of(obj).stub()
    wanted = dict(meta.get("labels") or {}) if labels is None else labels
    if wanted:
        body["metadata"]["labels"] = wanted
    return body


_VOLATILE_META = ("resourceVersion", "generation", "uid", "creationTimestamp", "managedFields", "selfLink")


def comparable(obj: Obj | None) -> Obj | None:
    """The object without server bookkeeping, for 'did anything change' questions."""
    if obj is None:
        return None
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _VOLATILE_META}
    return {k: v for k, v in obj.items() if k != "status"} | {"metadata": meta}


def field_changes(live: Any, wanted: Any, path: str = "") -> list[str]:
    """Paths where ``wanted`` differs from ``live`` (fields only the live object has are ignored)."""
    if isinstance(wanted, dict) and isinstance(live, dict):
        out: list[str] = []
        for key, value in wanted.items():
            out += field_changes(live.get(key), value, f"{path}.{key}" if path else str(key))
        return out
    if isinstance(wanted, list) and isinstance(live, list) and len(wanted) == len(live):
        return [
            c
            for i, (a, b) in enumerate(zip(live, wanted, strict=True))
            for c in field_changes(a, b, f"{path}[{i}]")
        ]
    return [] if live == wanted else [path or "(object)"]


@dataclass(frozen=True)
class Bodies:
    """The objects of one phase, each encoded once (canonical JSON): its body digest, which the
    inventory keeps and the fast path compares to leave an object alone when nothing changed,
    and its size, which orders the applies. A v0.20.0 phase of CRDs is 2.3 MB of JSON, ~25 ms
    to encode and hash; a deploy used to do it four times (the CRD upgrade check included)."""

    digests: list[str]
    sizes: list[int]

    @classmethod
    def of(cls, objs: list[Obj]) -> Bodies:
        encoded = [jsonio.canonical(o) for o in objs]
        return cls([jsonio.hashed(e)[:16] for e in encoded], [len(e) for e in encoded])
