"""Normalization: what a page says → the catalog record an auditor accepts (pure code).

Nothing here does I/O or touches the database: the pipeline calls ``normalize`` with a
``RawItem`` and a ``NormalizeProfile`` and gets a ``CatalogRecord`` or a
``QuarantineError`` that names every field, rule and the page URL.

Modules, one concern each: ``text`` (canonical text), ``dates``, ``docno`` (文号),
``classify`` (组配分类 and 体裁分类), ``summary`` (内容概述), ``sanitize`` (body HTML),
``hashing`` (the content hash), ``fields`` (the labelled fields), ``body_head`` (the
furniture at the top of a body) and ``record`` (``normalize`` itself).
"""

from __future__ import annotations

from bridge.normalize.fields import FieldProblem
from bridge.normalize.hashing import content_hash
from bridge.normalize.record import (
    Draft,
    QuarantineError,
    draft,
    index_no_problem,
    normalize,
)

__all__ = [
    "Draft",
    "FieldProblem",
    "QuarantineError",
    "content_hash",
    "draft",
    "index_no_problem",
    "normalize",
]
