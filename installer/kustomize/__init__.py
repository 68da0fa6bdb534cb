"""A kustomize engine in Python: ``kubectl kustomize``'s results, without kubectl.

Why not shell out to kustomize? The product must build without kubectl, and kustomize takes 2-3 s
on KServe's manifests (it parses its built-in OpenAPI first); this engine works on pre-parsed
objects and copies only what it changes, so a render stays well under a second.

Supported kustomization fields (anything else is refused by name, never ignored): ``resources``
(and ``bases``), ``components`` (kind Component), ``namespace``, ``patches`` (strategic merge and
JSON 6902, from ``path`` or inline, with ``target`` selectors including label and annotation
selectors), ``labels`` (``pairs``, ``includeSelectors``, ``includeTemplates``, ``fields``),
``commonAnnotations``, ``images``, ``replacements`` (sources, targets with select/reject, field
paths, ``options.delimiter``/``index``/``create``, and ``path`` files), ``configMapGenerator``
with ``generatorOptions`` (without name hashes), ``configurations`` (custom field specs for the
transformers), ``transformers`` (the builtin LabelTransformer and AnnotationsTransformer) and
``vars``. The tests build KServe's own ``config/`` trees and compare every object with
``kubectl kustomize`` (tests/test_kustomize_config_trees.py), besides the focused cases of
tests/test_kustomize_engine.py.

Modules, one job each: :mod:`.tree` (files), :mod:`.schema` (what a kustomization may say),
:mod:`.builder` (the accumulator and the order of things), :mod:`.resid` and :mod:`.selectors`
(identities and which objects a patch or replacement applies to), :mod:`.fieldspecs` and
:mod:`.defaults` (where transformers act), :mod:`.cow` (copy-on-write edits), and the
transformers :mod:`.patches`, :mod:`.namespaces`, :mod:`.metadata`, :mod:`.images`,
:mod:`.replacements` (with :mod:`.paths`), :mod:`.nameref`, :mod:`.vars`, :mod:`.generators`.
"""

from __future__ import annotations

from installer.kustomize.builder import build
from installer.kustomize.cow import deep_copy
from installer.kustomize.namespaces import copied_whole
from installer.kustomize.tree import KUSTOMIZATION_FILES, FileTree, FileValue, parse_documents

__all__ = [
    "KUSTOMIZATION_FILES",
    "FileTree",
    "FileValue",
    "build",
    "copied_whole",
    "deep_copy",
    "parse_documents",
]
