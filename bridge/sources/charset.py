"""A page's charset, decided as a browser should: header charset, BOM, an XML
declaration, ``<meta>``, strict UTF-8, the configured default, and only then detection
(logged). ``requests`` would decode ``text/html`` without a header charset as
ISO-8859-1, so its ``r.text`` is never used. Each candidate must decode the whole body
strictly. Strict UTF-8 comes before a legacy default because it almost never accepts GBK
bytes by accident, while GB18030 accepts most UTF-8 bytes as valid mojibake.

Before any of that, ``binary_kind`` tells a body that is no text at all (a PDF or an
image served as a page) by its first bytes.
"""

from __future__ import annotations

import codecs
import logging
import re
from dataclasses import dataclass

log = logging.getLogger(__name__)


_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "gb_2312-80": "gb18030",
    "cp936": "gb18030",
    "windows-936": "gb18030",
    "euc-cn": "gb18030",
    "csgb2312": "gb18030",
    "utf8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.I)
_XML_DECLARATION = re.compile(rb"""\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def canonical_charset(name: str | None) -> str | None:
    """A codec name Python knows, with GB2312/GBK widened to GB18030 (a superset)."""
    if not name:
        return None
    name = name.strip().strip("\"'").lower()
    name = _CHARSET_ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def header_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    m = re.search(r"charset\s*=\s*([^\s;]+)", content_type, re.I)
    return canonical_charset(m.group(1)) if m else None


@dataclass(frozen=True)
class Decoded:
    text: str
    charset: str
    how: str  # header | bom | xml | meta | utf-8 | default | detected
    replacement_chars: int


def decode_html(
    body: bytes, content_type: str | None, default: str | None, *, url: str = "a page"
) -> Decoded:
    """Decode a page by the first trustworthy declaration that decodes it cleanly."""
    candidates: list[tuple[str, str | None]] = [("header", header_charset(content_type))]
    for bom, name in _BOMS:
        if body.startswith(bom):
            candidates.insert(0, ("bom", name))
            break
    declared = _XML_DECLARATION.match(body[:200])
    if declared:  # XML (a Hanweb data proxy answer) names its encoding here, not in a <meta>
        candidates.append(("xml", canonical_charset(declared.group(1).decode("ascii"))))
    m = _META_CHARSET.search(body[:4096])
    candidates.append(
        ("meta", canonical_charset(m.group(1).decode("ascii", "replace")) if m else None)
    )
    candidates.append(("utf-8", "utf-8"))
    candidates.append(("default", canonical_charset(default)))
    for how, charset in candidates:
        if not charset:
            continue
        try:
            text = body.decode("utf-8-sig" if charset == "utf-8" else charset)
        except (UnicodeDecodeError, LookupError):
            continue
        if how != "bom" and not charset.startswith("utf") and not body.isascii():
            # A declaration that is not UTF-8 over bytes that are strictly valid UTF-8 is
            # wrong (a server-wide default, a template kept after a migration): Chinese
            # text in GBK is never valid UTF-8, while GB18030 reads UTF-8 as mojibake.
            try:
                return Decoded(body.decode("utf-8-sig"), "utf-8", "utf-8", 0)
            except UnicodeDecodeError:
                pass
        return Decoded(text, charset, how, text.count("\ufffd"))
    from charset_normalizer import from_bytes

    best = from_bytes(body).best()
    charset = canonical_charset(best.encoding if best else None) or "gb18030"
    text = body.decode(charset, errors="replace")
    count = text.count("\ufffd")
    log.warning(
        "charset of %s guessed as %s by detection (%d replacement characters)", url, charset, count
    )
    return Decoded(text, charset, "detected", count)


_MAGIC = (
    (b"%PDF-", "a PDF file"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"GIF8", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x1f\x8b", "gzip data"),
    (b"PK\x03\x04", "a ZIP archive or Office file"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Office 97-2003 file"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7z archive"),
)


def binary_kind(body: bytes) -> str | None:
    """What a body that is no text is (a file served as a page), or None for text.

    By its signature, or by a NUL byte near the start (text has none there, except
    UTF-16, which starts with its BOM).
    """
    for magic, kind in _MAGIC:
        if body.startswith(magic):
            return kind
    if b"\0" in body[:512] and not body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "binary data"
    return None
