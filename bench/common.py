"""What every benchmark shares: where results go, and the fixed figures that make a run
repeatable (the seed, the last day of a generated site).

The rest is split by concern: ``sites`` (generated, cached sandbox sites), ``servers``
(nginx, the sandbox site and portal in child processes), ``harness`` (the bridge's config,
command line and context), ``procs`` (measured child processes, CPU clocks) and
``results`` (the machine, tables, saved JSON).
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
CACHE = RESULTS / "cache"
PYTHON = sys.executable
END_DATE = date(2026, 11, 27)  # fixed, so a seed gives the same site on any day
SEED = 1
PAGE_SIZE = 20  # TRS template default: entries per list page
