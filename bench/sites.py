"""Generated sandbox sites, cached under bench/results/cache by size, seed, column count
and the generator's version, and their columns as a config lists them."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from bench.common import CACHE, END_DATE, REPO, SEED

BASE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("jgzn", "xxgk/jgzn/", "机构职能"),
    ("zcwj", "xxgk/zcwj/", "政策文件"),
    ("ghjh", "xxgk/ghjh/", "规划计划"),
    ("ywgz", "xxgk/ywgz/", "业务工作"),
    ("tjsj", "xxgk/tjsj/", "统计数据"),
    ("qt", "xxgk/qt/", "其他"),
)


def generator_version() -> str:
    """A short hash of the sandbox's source: a cached site is reused only by the same code."""
    import hashlib

    folder = REPO / "bridge" / "sandbox"
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.py")) + sorted((folder / "data").glob("*")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:8]


def _supports_columns() -> bool:
    import inspect

    from bridge.sandbox.site import generate_site

    return "columns" in inspect.signature(generate_site).parameters


def cached_site(items: int, seed: int = SEED, *, columns: int = 6, say: Any = print) -> Path:
    """A TRS sandbox site of ``items`` items, generated once under bench/results/cache.

    The cache key holds the generator's version, so a changed sandbox generates anew (older
    copies of the same size are removed). Generated into a temporary folder and renamed
    when complete: an interrupted run never leaves half a site that a later run trusts.
    Without ``generate_site(columns=)`` a site has six columns (see ``columns_for``).
    """
    own = columns if columns != 6 and _supports_columns() else 6
    stem = f"trs-{items}-seed{seed}-c{own}"
    root = CACHE / f"{stem}-{generator_version()}"
    if (root / "site.json").exists():
        return root
    from bridge.sandbox.site import generate_site

    CACHE.mkdir(parents=True, exist_ok=True)
    for old in CACHE.glob(f"{stem}-*"):
        shutil.rmtree(old, ignore_errors=True)
    tmp = CACHE / f".{root.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    say(f"generating a {items:,}-item TRS site ({own} columns) into {root.name} (cached) …")
    started = time.perf_counter()
    kwargs: dict[str, Any] = {"columns": own} if own != 6 else {}
    generate_site(tmp, items=items, seed=seed, end_date=END_DATE, **kwargs)
    tmp.rename(root)
    say(f"  generated in {time.perf_counter() - started:.0f} s")
    return root


def columns_for(root: Path, count: int) -> tuple[list[tuple[str, str, str]], str]:
    """``count`` columns of a cached site as (key, path, category), and how they were made.

    A site generated with ``columns=count`` has them all, each with items of its own.
    Otherwise (a sandbox without that option) the six columns are repeated as symlinks
    (``xxgk/c07`` → ``zcwj`` …): each extra column lists the same items again, as a
    cross-listing column does, and relative links keep the article URLs under it.
    """
    try:
        from bridge.sandbox.site_model import load_head

        own = [(k, p.strip("/") + "/", name) for k, p, name in load_head(root).columns]
    except (ImportError, AttributeError):  # a sandbox from before generate_site(columns=)
        own = list(BASE_COLUMNS)
    if len(own) >= count:
        return own[:count], "generate_site(columns=)"
    cols = list(own)
    for n in range(len(cols) + 1, count + 1):
        _key, path, category = own[(n - 1) % len(own)]
        alias = f"c{n:02d}"
        link = root / "xxgk" / alias
        if not link.is_symlink():
            link.symlink_to(Path(path).name, target_is_directory=True)
        cols.append((alias, f"xxgk/{alias}/", category))
    return cols, "symlinked copies of the six columns"
