"""The README's Security section names knobs that exist, with their real defaults."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from bridge.config import load

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLE = tomllib.loads((ROOT / "config/bridge.example.toml").read_text(encoding="utf-8"))
SECTION = README.split("\n## Security\n", 1)[1].split("\n## ", 1)[0]
ROW = re.compile(r"^\| `\[(\[?\w+\]?)\] (\w+)` \| ([^|]+) \|", re.M)


def _value(shown: str) -> object:
    shown = shown.strip().strip("`").replace(",", "")
    if shown in ("true", "false"):
        return shown == "true"
    if shown == "[]":
        return ()
    if shown == "none":
        return None
    number, _, unit = shown.partition(" ")
    scale = {"": 1, "MiB": 1024 * 1024, "min": 60}[unit]
    return int(number) * scale


def test_every_knob_of_the_security_section_has_its_stated_default(tmp_path: Path) -> None:
    rows = ROW.findall(SECTION)
    assert len(rows) == 11
    path = tmp_path / "bridge.toml"
    path.write_text(
        '[[sources]]\nname = "s"\nbase_url = "http://127.0.0.1:9/"\npublisher = "余姚市教育局"\n'
        'org_code = "002949236"\n[[sources.columns]]\nkey = "a"\npath = "a/"\n'
        'category = "政策文件"\n[target]\nkind = "exchange-dir"\ndirectory = "out"\n',
        encoding="utf-8",
    )
    settings = load(path, environ={})
    tables = {
        "fetch": settings.sources[0].fetch,
        "[sources]": settings.sources[0],
        "target": settings.target,
        "admin": settings.admin,
    }
    for table, key, shown in rows:
        actual = getattr(tables[table], key)
        if key == "token":
            assert actual is None
            continue
        expected = _value(shown)
        assert (actual == expected) or (isinstance(actual, float) and actual == expected), key
        # and the example config documents it, in that table
        if table == "[sources]":
            assert key in EXAMPLE["sources"][0], key
        else:
            assert key in EXAMPLE[table], key
