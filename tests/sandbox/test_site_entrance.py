"""The home page of a sandbox site with variants links the disclosure columns only through
its 政府信息公开 entrance, as real bureau sites do; a default site's home links them itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from bridge.sandbox.site import SiteServer, generate_site


def _links(html: str) -> set[str]:
    return set(re.findall(r'href="([^"]+)"', html))


@pytest.mark.parametrize(
    ("style", "encoding", "entrance", "columns"),
    [
        ("trs", "utf-8", "/xxgk/index.html", [f"/xxgk/{k}/index.html" for k in ("jgzn", "qt")]),
        (
            "hanweb",
            "gbk",
            "/col/col1228/index.html",
            ["/col/col1229/index.html", "/col/col1234/index.html"],
        ),
    ],
)
def test_the_columns_are_behind_the_entrance(
    tmp_path: Path, style: str, encoding: str, entrance: str, columns: list[str]
) -> None:
    generate_site(tmp_path / "v", items=12, seed=3, style=style, encoding=encoding, variants=True)
    generate_site(tmp_path / "d", items=12, seed=3, style=style, encoding=encoding)
    with SiteServer(tmp_path / "v") as site, SiteServer(tmp_path / "d") as plain:
        codec = "gb18030" if encoding == "gbk" else "utf-8"

        def get(base: str, path: str) -> requests.Response:
            return requests.get(base + path.lstrip("/"), timeout=10)

        home = get(site.base_url, "/").content.decode(codec)
        assert f'<li><a href="{entrance}">政府信息公开</a></li>' in home
        assert not set(columns) & _links(home)
        gate = get(site.base_url, entrance)
        assert gate.status_code == 200
        assert set(columns) <= _links(gate.content.decode(codec))
        for section in ("/jyxw/index.html", "/bsfw/index.html", "/hdjl/index.html"):
            page = get(site.base_url, section)
            assert page.status_code == 200 and section in home
            assert 'class="list"' not in page.content.decode(codec)
        assert set(columns) <= _links(get(plain.base_url, "/").content.decode(codec))
        assert get(plain.base_url, entrance).status_code == 404
