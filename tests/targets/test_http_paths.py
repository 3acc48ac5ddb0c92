"""The http target hands the client its request URL parsed, exactly as urllib3 parses it,
and signs its path as ``urlsplit`` reads it."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from urllib3.util import parse_url

from bridge.sandbox.portal import SANDBOX_KEY, SANDBOX_SECRET
from bridge.targets.http import HttpTarget, quote_segment

BASES = [
    "http://127.0.0.1:8080/",
    "http://localhost",
    "https://Portal.Example/base/",
    "https://portal.example:8443/a%2fb/c d/",
    "https://portal.example/a/../b/./",
    "https://user:pw@portal.example/p/",
    "https://portal.example/?q=1",
    "https://portal.example/#frag",
]


def target(base: str) -> HttpTarget:
    return HttpTarget("portal", base, SANDBOX_KEY, SANDBOX_SECRET, allow_insecure_http=True)


TARGETS = {base: target(base) for base in BASES}


def check(base: str, path: str) -> bool:
    """Whether the target parsed ``path`` itself; when it did, as urllib3 would."""
    t = TARGETS[base]
    split = urlsplit(t.base + path)
    assert t._signed_path(path) == split.path + (f"?{split.query}" if split.query else "")
    ours = t._parsed(path)
    if ours is not None:
        assert ours == parse_url(t.base + path)
        assert ours.request_uri == parse_url(t.base + path).request_uri
    return ours is not None


@given(st.sampled_from(BASES), st.text())
def test_an_item_s_path_parses_as_urllib3_parses_it(base, external_id):
    check(base, f"api/v1/items/{quote(external_id, safe='')}")


@given(st.sampled_from(BASES), st.text(st.sampled_from("aZ9-_.~%/?#:@ 2EFe\xe9"), max_size=12))
def test_any_path_parses_as_urllib3_parses_it(base, path):
    check(base, path)


@pytest.mark.parametrize(
    "external_id",
    ["trs:https://www.yyjy.gov.cn/art/2012/12/3/art_123_456.html", "hanweb:col1/42", "a b/c"],
)
def test_an_everyday_id_is_parsed_by_the_target(external_id):
    assert check("http://127.0.0.1:8080/", f"api/v1/items/{quote(external_id, safe='')}")
    assert check("http://127.0.0.1:8080/", "api/v1/files")


@pytest.mark.parametrize(
    "path", ["api/v1/items/..", "api/v1/items/.", "api/v1/items/%2e%2e", "api/v1/items?limit=1"]
)
def test_a_path_urllib3_would_rewrite_is_left_to_it(path):
    assert not check("http://127.0.0.1:8080/", path)
    assert not check("https://portal.example/?q=1", "api/v1/files")


@pytest.mark.parametrize("path", ["api/v1/items/%2E%2E", "api/v1/items/%2E", "a//b", "a/b/"])
def test_an_odd_but_plain_path_parses_as_urllib3_parses_it(path):
    for base in BASES:
        check(base, path)


@given(st.text())
def test_a_segment_is_quoted_as_urllib_quotes_it(value):
    assert quote_segment(value) == quote(value, safe="")


@given(st.text(st.characters(max_codepoint=127)))
def test_an_ascii_segment_is_quoted_as_urllib_quotes_it(value):
    assert quote_segment(value) == quote(value, safe="")
