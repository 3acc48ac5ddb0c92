"""The fields a page labels itself: its label table and meta tags read once, with where
each field's value came from (provenance), and the plain fields read straight from them:
发布机构, 主题分类, 公开方式, 有效性, 适用范围, 关键词.

The fields that need judgement (title, dates, 文号, 索引号, summary) are read in
:mod:`bridge.normalize.record`; a problem found on the way is a :class:`FieldProblem`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bridge.catalog import DEFAULT_SCOPE, NormalizeProfile
from bridge.labels import FIELD_LABELS, META_TAGS, NONE_VALUES, SELF_REFERENCES
from bridge.text import clean_text, compact

NOT_PUBLISHERS = frozenset({"", "原创", "讯", "编辑", "整理", "综合", "本网", "本站"})
"""What is left of 来源：本网原创 once 本网 is dropped: no publisher."""

_TOPIC_RE = re.compile(r"^[\u4e00-\u9fa5]+(?:[、\\][\u4e00-\u9fa5]+)*$")
_WIDGET = re.compile(r"\s*[【\[|｜].*$")


@dataclass(frozen=True)
class FieldProblem:
    """One reason a record is quarantined: which field, which rule, what was found."""

    field: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message} (rule {self.rule})"


@dataclass
class Fields:
    """The page's labelled values and meta tags, and where each field's value came from."""

    meta: dict[str, str]
    page_meta: dict[str, str]
    provenance: dict[str, str] = field(default_factory=dict)

    def labelled(self, name: str) -> tuple[str, str] | None:
        """(label, value) of the first label of field ``name`` the page shows."""
        for label in FIELD_LABELS[name]:
            if label in self.meta:
                return label, self.meta[label]
        return None

    def tagged(self, name: str) -> str | None:
        tag = META_TAGS.get(name)
        return self.page_meta.get(tag) if tag else None

    def take(self, name: str, value: str, how: str) -> str:
        self.provenance[name] = how
        return value


def clean_meta(meta: dict[str, str]) -> dict[str, str]:
    """Labels without white space or colons; values as canonical text; empty cells gone."""
    out: dict[str, str] = {}
    for label, value in meta.items():
        key = compact(label).strip(":：")
        text = clean_text(value)
        if key and text and key not in out:
            out[key] = text
    return out


def read_publisher(f: Fields, profile: NormalizeProfile) -> str:
    """The first publisher label the page shows (本网/本站 are the site, not a publisher),
    then ContentSource, then the configured name."""
    for label in FIELD_LABELS["publisher"]:
        if label in f.meta and (name := _organization(f.meta[label])):
            return f.take("publisher", name, f"page:{label}")
    tagged = f.tagged("publisher")
    site = f.page_meta.get("SiteName")
    if tagged and tagged != site and (name := _organization(tagged)):  # not the site itself
        return f.take("publisher", name, "meta:ContentSource")
    return f.take("publisher", clean_text(profile.publisher), "config")


def _organization(value: str) -> str:
    name = clean_text(_WIDGET.sub("", value))
    for prefix in SELF_REFERENCES:
        name = name.removeprefix(prefix).strip(" ：:-—")
    return "" if name in NOT_PUBLISHERS or compact(name).lower() in NONE_VALUES else name


def read_topic(f: Fields, default: str) -> str:
    if found := f.labelled("topic"):
        topic = compact(found[1]).replace("/", "\\").replace("／", "\\").replace("，", "、")
        if _TOPIC_RE.match(topic) and topic not in NONE_VALUES:
            return f.take("topic", topic, f"page:{found[0]}")
    return f.take("topic", clean_text(default), "config")


def read_choice(f: Fields, name: str, allowed: tuple[str, ...], default: str) -> str:
    found = f.labelled(name)
    if found and compact(found[1]) in allowed:
        return f.take(name, compact(found[1]), f"page:{found[0]}")
    return f.take(name, default, "default")


def read_scope(f: Fields) -> str:
    found = f.labelled("scope")
    value = clean_text(found[1]) if found else ""
    if found and value and compact(value) not in NONE_VALUES and len(value) <= 20:
        return f.take("scope", value, f"page:{found[0]}")
    return f.take("scope", DEFAULT_SCOPE, "default")


def read_keywords(f: Fields, default: tuple[str, ...]) -> tuple[str, ...]:
    found = f.labelled("keywords")
    if found and compact(found[1]).lower() not in NONE_VALUES:
        value, how = found[1], f"page:{found[0]}"
    elif tagged := f.tagged("keywords"):
        value, how = tagged, "meta:Keywords"
    else:
        value, how = None, "config"
    words = re.split(r"[\s,，;；、]+", value) if value else list(default)
    f.take("keywords", "", how)
    return tuple(dict.fromkeys(w for w in (clean_text(x) for x in words) if w))
