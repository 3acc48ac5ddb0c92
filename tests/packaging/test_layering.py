"""The data flows sources → normalize, and the two packages never import each other: what
both need lives outside them (``bridge.raw`` for the values a site yields, ``bridge.text``
and ``bridge.filename`` for canonical text and safe attachment names).

Every import in every module is read with ``ast``, those inside functions and under
``TYPE_CHECKING`` included, so a lazy import cannot slip a cycle back in.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BRIDGE = Path(__file__).resolve().parents[2] / "bridge"

FORBIDDEN = {"sources": "bridge.normalize", "normalize": "bridge.sources"}
"""Package under bridge/ → the package its modules must not import."""


def module_name(path: Path) -> str:
    parts = path.relative_to(BRIDGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module ``source`` (the text of ``module``) imports, relative ones resolved;
    ``from a import b`` counts as both ``a`` and ``a.b`` (b may be a module)."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def crossing(source: str, module: str, is_package: bool = False) -> list[str]:
    """The imports of ``module`` that cross from sources into normalize or back."""
    own = module.split(".")[1] if module.count(".") else ""
    banned = FORBIDDEN.get(own)
    if banned is None:
        return []
    return sorted(
        name
        for name in imported(source, module, is_package)
        if name == banned or name.startswith(banned + ".")
    )


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_sources_and_normalize_do_not_import_each_other(package: str) -> None:
    files = sorted((BRIDGE / package).rglob("*.py"))
    assert files, f"no modules under bridge/{package}"
    crossings = {
        str(path.relative_to(BRIDGE.parent)): found
        for path in files
        if (
            found := crossing(
                path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py"
            )
        )
    }
    assert crossings == {}


def test_the_check_sees_every_form_of_import() -> None:
    """The forms a cross import takes (the two the layout removed among them) are seen."""
    source = (
        "from bridge.sources.base import RawItem\n"
        "import bridge.sources.fetch as f\n"
        "from bridge import sources\n"
        "from ..sources import parse\n"
        "def lazy():\n"
        "    from bridge.sources.trs import TrsSource\n"
    )
    assert crossing(source, "bridge.normalize.record") == [
        "bridge.sources",
        "bridge.sources.base",
        "bridge.sources.base.RawItem",
        "bridge.sources.fetch",
        "bridge.sources.parse",
        "bridge.sources.trs",
        "bridge.sources.trs.TrsSource",
    ]
    assert crossing("from bridge.normalize.text import tree_safe\n", "bridge.sources.parse") == [
        "bridge.normalize.text",
        "bridge.normalize.text.tree_safe",
    ]
    assert crossing("from bridge.text import tree_safe\n", "bridge.sources.parse") == []
