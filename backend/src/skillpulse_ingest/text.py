"""HTML, Markdown and plain text to one clean plain text, for matching (not display)."""

from __future__ import annotations

import html
import re
import unicodedata

from . import accelerator

_ESCAPED_TAG = re.compile(r"&lt;\s*/?\s*[a-zA-Z!]")
_SCRIPT_STYLE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.I | re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_BREAK_TAG = re.compile(r"<\s*(?:br|/?p|/?div|/?h[1-6]|/?tr|/?ul|/?ol|/?section|/?article|hr)\b[^>]*>", re.I)
_LIST_ITEM = re.compile(r"<\s*li\b[^>]*>", re.I)
_TAG = re.compile(r"<[^<>]*>")
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"\b(?:https?://|ftp://|www\.)\S+", re.I)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_PATH = re.compile(r"(?<![\w.])(?:\.{0,2}/)?(?:[\w.-]+/)+[\w.-]+\.(?:png|jpe?g|gif|svg|webp|pdf|html?|php|aspx?)\b", re.I)
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_FILE_ENDINGS = (".png", ".jp", ".gif", ".svg", ".webp", ".pdf", ".htm", ".php", ".asp")


def to_plain_text(text: str | None) -> str:
    """Strip markup, links and invisible characters; keep line breaks for list detection."""
    if not text:
        return ""
    for _ in range(3):  # entity-escaped HTML ("&lt;p&gt;") may be escaped more than once
        if not _ESCAPED_TAG.search(text):
            break
        text = html.unescape(text)
    if "<" in text:
        text = _SCRIPT_STYLE.sub(" ", text)
        text = _COMMENT.sub(" ", text)
        text = _LIST_ITEM.sub("\n- ", text)
        text = _BREAK_TAG.sub("\n", text)
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    if "](" in text:
        text = _MD_IMAGE.sub(" ", text)
        text = _MD_LINK.sub(r"\1", text)
    # Each substitution runs only when a cheap substring test says it can match: this is a hot path.
    lowered = text.lower()
    if "://" in text or "www." in lowered:
        text = _URL.sub(" ", text)
    if "@" in text:
        text = _EMAIL.sub(" ", text)
    if "/" in text and any(ending in lowered for ending in _FILE_ENDINGS):
        text = _PATH.sub(" ", text)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    elif accelerator.scan is not None:
        return accelerator.scan.squeeze_lines(text)
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)
