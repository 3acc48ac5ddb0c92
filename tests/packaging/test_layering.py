"""The packages import only below them (the table ``BELOW``), and sources and normalize
never import each other: what both need lives outside them (``bridge.raw`` for the values a site yields, ``bridge.text``
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


# --- the package layering ------------------------------------------------------------------------

BELOW: dict[str, set[str]] = {
    "bridge": set(),  # the shared vocabulary: bridge/*.py (errors, catalog, raw, text, logs, ...)
    "net": {"bridge"},
    "config": {"bridge", "net"},
    "sources": {"bridge", "net", "config"},
    "normalize": {"bridge", "net"},
    "state": {"bridge", "config", "normalize"},
    "targets": {"bridge", "net", "config", "normalize"},
    "context": {"bridge", "config", "sources", "state", "targets"},
    "delivery": {"bridge", "net", "config", "normalize", "state", "targets", "context"},
}
"""Layer → the layers its modules may import (its own always). Read bottom up: the flow
sources → normalize → state (outbox) → delivery → targets, with the vocabulary, net and
config under everything; crawl, service and admin above it; cli, discover and sandbox on
top."""
_FLOW = {
    "bridge",
    "net",
    "config",
    "sources",
    "normalize",
    "state",
    "targets",
    "context",
    "delivery",
}
BELOW["crawl"] = _FLOW
BELOW["service"] = _FLOW | {"crawl"}
BELOW["admin"] = _FLOW | {"crawl", "service"}
BELOW["discover"] = _FLOW | {"crawl", "service", "admin"}
BELOW["sandbox"] = _FLOW | {"crawl", "service", "admin"}
BELOW["cli"] = _FLOW | {"crawl", "service", "admin", "discover", "sandbox"}

COMPOSITION = {
    "bridge.context": "context",  # builds the sources, store and target a command runs on
    "bridge.demo": "cli",  # `xxgk-bridge demo`: sandbox + the real loop, an entry point
    "bridge.__main__": "cli",  # `python -m bridge`
}
"""Top-level modules that assemble layers rather than name shared things."""

EXCEPTIONS = {
    ("bridge.service.daemon", "bridge.admin.pages"): "the daemon mounts the admin pages on its "
    "web server when they are enabled (a lazy import: composition, not a dependency)",
}
"""(module, imported module) → why this one edge against the table is right."""

PACKAGES = sorted(p.name for p in BRIDGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file())


def layer_of(name: str) -> str | None:
    """The layer of a dotted name under ``bridge`` (None: not the bridge's)."""
    parts = name.split(".")
    if parts[0] != "bridge":
        return None
    if len(parts) > 1 and parts[1] in BELOW and parts[1] != "bridge":
        return parts[1]
    return COMPOSITION.get(".".join(parts[:2]), "bridge")


def against_the_flow(source: str, module: str, is_package: bool = False) -> list[str]:
    """``module → imported (layer → layer)`` for every import the table does not allow."""
    own = layer_of(module)
    assert own is not None, module
    out = []
    for name in sorted(imported(source, module, is_package)):
        other = layer_of(name)
        if other is None or other == own or other in BELOW[own]:
            continue
        if any(name == m or name.startswith(m + ".") for _, m in _excepted(module)):
            continue
        out.append(f"{module} imports {name} ({own} → {other})")
    return out


def _excepted(module: str) -> list[tuple[str, str]]:
    return [key for key in EXCEPTIONS if key[0] == module]


def _modules(package: str) -> list[Path]:
    if package == "bridge":
        return sorted(BRIDGE.glob("*.py"))
    return sorted(p for p in (BRIDGE / package).rglob("*.py") if "migrations" not in p.parts)


def test_every_package_has_its_place_in_the_table() -> None:
    assert sorted(set(BELOW) - {"bridge", "context"}) == PACKAGES


@pytest.mark.parametrize("package", ["bridge", *PACKAGES])
def test_no_package_imports_a_layer_above_it(package: str) -> None:
    found = [
        problem
        for path in _modules(package)
        for problem in against_the_flow(
            path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py"
        )
    ]
    assert found == []


def test_each_exception_is_still_needed() -> None:
    for module, target in EXCEPTIONS:
        path = BRIDGE.parent / (module.replace(".", "/") + ".py")
        assert target in imported(path.read_text(encoding="utf-8"), module), (module, target)


def test_the_table_check_names_the_offending_import() -> None:
    """The edges the layout left and this table removed are seen, lazy ones included."""
    assert against_the_flow(
        "from bridge.admin.report import timeliness\n", "bridge.state.live_timeliness"
    ) == [
        "bridge.state.live_timeliness imports bridge.admin.report (state → admin)",
        "bridge.state.live_timeliness imports bridge.admin.report.timeliness (state → admin)",
    ]
    assert against_the_flow(
        "def f():\n    from bridge.service import logs\n", "bridge.crawl.run"
    ) == [
        "bridge.crawl.run imports bridge.service (crawl → service)",
        "bridge.crawl.run imports bridge.service.logs (crawl → service)",
    ]
    assert against_the_flow("import bridge.crawl.run\n", "bridge.delivery.drain") == [
        "bridge.delivery.drain imports bridge.crawl.run (delivery → crawl)"
    ]
    assert against_the_flow("from bridge.state import db\n", "bridge.targets.http") == [
        "bridge.targets.http imports bridge.state (targets → state)",
        "bridge.targets.http imports bridge.state.db (targets → state)",
    ]
    assert against_the_flow("from bridge.config import Settings\n", "bridge.errors") == [
        "bridge.errors imports bridge.config (bridge → config)",
        "bridge.errors imports bridge.config.Settings (bridge → config)",
    ]
    assert against_the_flow("from bridge import logs, raw\n", "bridge.crawl.run") == []
    lazy_mount = "def mount():\n    from bridge.admin.pages import mount\n"
    assert against_the_flow(lazy_mount, "bridge.service.daemon") == []  # the one exception
    assert against_the_flow("from bridge.admin import reconcile\n", "bridge.service.web") == [
        "bridge.service.web imports bridge.admin (service → admin)",
        "bridge.service.web imports bridge.admin.reconcile (service → admin)",
    ]
