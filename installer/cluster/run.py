"""What one deploy carries through its phases: options, the cluster, progress, what changed.

Kept apart from the steps that use it (apply, CRD upgrades, prune) so each of them takes one
:class:`Run` instead of a long argument list, and tests build one in a line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from installer.cluster.client import Cluster
from installer.cluster.progress import Progress
from installer.cluster.readiness import Readiness
from installer.cluster.waits import Clock, wait_ready
from installer.objects import ObjectKey

APPLY_CONCURRENCY = 4


@dataclass
class DeployOptions:
    """How to deploy: identity of the install, and the user's flags."""

    instance: str
    version: str = ""
    mode: str = ""
    params_digest: str = ""
    dry_run: bool = False
    force_conflicts: bool = False
    # --force-crd-upgrade: apply CRD changes the upgrade-safety check refuses (a dropped stored
    # version is then migrated, objects that are not ours included).
    force_crd_upgrade: bool = False
    wait: bool = False
    timeout: float = 300.0
    interval: float = 0.25
    concurrency: int = APPLY_CONCURRENCY
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    @property
    def waits(self) -> Clock:
        return Clock(self.timeout, self.interval, self.sleep, self.clock)

    def wait_until(self, what: str, check: Callable[[], bool]) -> None:
        """Poll ``check`` with this deploy's timeout, interval, sleep and clock."""
        wait_ready(what, lambda: Readiness.ready("") if check() else Readiness.waiting(""), self.waits)


@dataclass
class ChangeSet:
    """What a deploy did (or, with dry run / diff, would do)."""

    created: list[str] = field(default_factory=list)
    configured: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return len(self.created) + len(self.configured) + len(self.replaced) + len(self.pruned)

    def summary(self) -> str:
        return (
            f"{self.changed} changed ({len(self.created)} created, {len(self.configured)} configured, "
            f"{len(self.replaced)} replaced, {len(self.pruned)} pruned), {len(self.unchanged)} unchanged"
        )


@dataclass
class Run:
    """One deploy in progress."""

    cluster: Cluster
    opts: DeployOptions
    report: Progress
    changes: ChangeSet
    applyset: str
    # (group, kind) of custom resources a conversion webhook converts -> how to name that webhook
    conversions: dict[tuple[str, str], str] = field(default_factory=dict)
    # objects deleted before the CRD phase to be created again: reported as replaced
    recreated: set[ObjectKey] = field(default_factory=set)
    # CRDs whose dry run the server would refuse until their storage moves (dry run skips them)
    moving: set[ObjectKey] = field(default_factory=set)
    # (group, kind) of the CRDs this deploy changed (not created): see apply.SCHEMA_SETTLE_SECONDS
    reschemed: set[tuple[str, str]] = field(default_factory=set)
    # namespaces that did not exist when this deploy began: nothing in them is read before applying
    new_namespaces: frozenset[str] = frozenset()
