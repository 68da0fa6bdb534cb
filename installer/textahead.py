"""Dump ahead: on a cold render, a second process writes the YAML the output will need while
this one runs the engine and validates.

The YAML writer dumps the values that are no longer the pre-build's (:mod:`installer.yamltext`).
On v0.18+ that is 4 MB of YAML: the two llmisvc CRDs, which the namespace transformer copies
whole (:func:`installer.kustomize.copied_whole`). Dumped after validation, they cost ~0.6 s on
one core while the other idles; the engine and the validation before them need ~0.5 s and not
the dump. So, before the engine runs, a forked process dumps the values of the pre-built
objects the transformer will copy into the writer's cache (:class:`~installer.yamltext.DumpCache`);
the writer reads them back. The cache is keyed by content: a wrong guess costs only the second
core's time (the writer dumps what it does not find), and the bytes are the same either way.

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

from installer.kustomize import copied_whole
from installer.yamltext import TextIndex

log = logging.getLogger(__name__)


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _fill(index: TextIndex, values: list[tuple[str, Any, int]]) -> None:
    # A failure here only costs time (the writer dumps the value itself): never a traceback.
    with contextlib.suppress(Exception):
        index.fill(values)


@contextlib.contextmanager
def dumping_ahead(index: TextIndex) -> Iterator[None]:
    """While the body runs, a second process dumps into ``index``'s cache the values of its
    pre-built objects that a render will copy whole; it is waited for when the body ends."""
    todo = index.copies_missing(copied_whole)
    if not todo or _cores() < 2 or "fork" not in multiprocessing.get_all_start_methods():
        yield
        return
    # The child flushes the standard streams when it ends: nothing buffered may be written twice.
    sys.stdout.flush()
    sys.stderr.flush()
    worker = multiprocessing.get_context("fork").Process(target=_fill, args=(index, todo), daemon=True)
    worker.start()
    log.debug("dumping %d values ahead in process %d", len(todo), worker.pid)
    try:
        yield
    finally:
        worker.join()
