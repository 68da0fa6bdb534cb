"""Dump ahead: on a cold render, a second process writes the YAML the output will need while
this one runs the engine and validates.

The YAML writer dumps the values that are no longer the pre-build's (:mod:`installer.yamltext`).
On v0.18+ that is 4 MB of YAML: the two llmisvc CRDs, which the namespace transformer copies
whole (:func:`installer.kustomize.copied_whole`). Dumped after validation, they cost ~0.45 s on
one core while the other idles; the engine and the validation before them need ~0.3 s and not
the dump. So, before the engine runs, forked processes dump the values of the pre-built objects
the transformer will copy into the writer's cache (:class:`~installer.yamltext.DumpCache`); the
writer reads them back. The cache is keyed by content: a wrong guess costs only the other
cores' time (the writer dumps what it does not find), and the bytes are the same either way.

One process per core, the values dealt between them by size: with one, the dump outlasted the
engine and validation by ~0.2 s on two cores, which then idled while this process waited; with
two, the three processes share both cores to the end.

Nothing is started when the cache holds everything already (a warm render), on one core, or
where processes cannot fork.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import sys
from collections.abc import Iterator
from typing import Any

from installer import jsonio
from installer.kustomize import copied_whole
from installer.yamltext import TextIndex

log = logging.getLogger(__name__)


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


Value = tuple[str, Any, int]  # (key, value, indent) of a value to dump, as TextIndex gives it


def _fill(index: TextIndex, values: list[Value]) -> None:
    # A failure here only costs time (the writer dumps the value itself): never a traceback.
    with contextlib.suppress(Exception):
        index.fill(values)


def deal(values: list[Value], n: int) -> list[list[Value]]:
    """``values`` in at most ``n`` non-empty groups of about equal size (their JSON length,
    which the dump's time follows): largest first, each to the group with least so far."""
    sizes = [len(jsonio.dumps(v)) for _, v, _ in values]
    groups: list[list[Value]] = [[] for _ in range(n)]
    work = [0] * n
    for i in sorted(range(len(values)), key=lambda i: -sizes[i]):
        least = work.index(min(work))
        groups[least].append(values[i])
        work[least] += sizes[i]
    return [g for g in groups if g]


@contextlib.contextmanager
def dumping_ahead(index: TextIndex) -> Iterator[None]:
    """While the body runs, one process per core dumps into ``index``'s cache its share of the
    values of the pre-built objects that a render will copy whole; they are waited for when the
    body ends."""
    todo = index.copies_missing(copied_whole)
    if not todo or _cores() < 2 or "fork" not in multiprocessing.get_all_start_methods():
        yield
        return
    # A child flushes the standard streams when it ends: nothing buffered may be written twice.
    sys.stdout.flush()
    sys.stderr.flush()
    context = multiprocessing.get_context("fork")
    groups = deal(todo, _cores())
    workers = [context.Process(target=_fill, args=(index, group), daemon=True) for group in groups]
    for worker in workers:
        worker.start()
    log.debug("dumping %d values ahead in %d processes", len(todo), len(workers))
    try:
        yield
    finally:
        for worker in workers:
            worker.join()
