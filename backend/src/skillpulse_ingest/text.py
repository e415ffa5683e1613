"""HTML, Markdown and plain text to one clean plain text, for matching (not display)."""

from __future__ import annotations

import html
import re
import unicodedata

from . import accelerator

_ESCAPED_TAG = re.compile(r"&lt;\s*/?\s*[a-zA-Z!]")
# Every pattern here is linear in its input: no repeat can run past the point where the next
# attempt would start (a tag stops at "<", a link text at "[" or "]"), or it has a fixed bound.
_BLOCK_OPEN = re.compile(r"<!--|<(script|style)\b", re.I)
_BLOCK_CLOSE = {"": re.compile("-->"), "script": re.compile(r"</script\b[^<>]*>", re.I),
                "style": re.compile(r"</style\b[^<>]*>", re.I)}
_BREAK_TAG = re.compile(r"<\s*(?:br|/?p|/?div|/?h[1-6]|/?tr|/?ul|/?ol|/?section|/?article|hr)\b[^<>]*>", re.I)
_LIST_ITEM = re.compile(r"<\s*li\b[^<>]*>", re.I)
_TAG = re.compile(r"<[^<>]*>")
_MD_IMAGE = re.compile(r"!\[[^\[\]]*\]\([^()\n]*\)")
_MD_LINK = re.compile(r"\[([^\[\]]*)\]\([^()\n]*\)")
_URL = re.compile(r"\b(?:https?://|ftp://|www\.)\S+", re.I)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}\b")
_PATH = re.compile(r"(?<![\w./])(?:\.{0,2}/)?(?:[\w.-]{1,100}/){1,16}[\w.-]{1,100}\.(?:png|jpe?g|gif|svg|webp|pdf|html?|php|aspx?)\b",
                   re.I)
_SURROGATE = re.compile("[\ud800-\udfff]")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_FILE_ENDINGS = (".png", ".jp", ".gif", ".svg", ".webp", ".pdf", ".htm", ".php", ".asp")
MAX_TEXT = 1_000_000  # characters analyzed of one field: a real posting is far shorter; a hostile one stops here
MAX_TITLE = 500      # characters of a title that are analyzed


def valid_unicode(text: str) -> str:
    """The text with lone UTF-16 surrogates (half an emoji, cut) replaced by U+FFFD, which
    SQLite, UTF-8 files and terminals can all store."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)


def to_plain_text(text: str | None) -> str:
    """Strip markup, links and invisible characters; keep line breaks for list detection."""
    if not text:
        return ""
    text = text[:MAX_TEXT]
    for _ in range(3):  # entity-escaped HTML ("&lt;p&gt;") may be escaped more than once
        if not _ESCAPED_TAG.search(text):
            break
        text = html.unescape(text)
    if "<" in text:
        text = _drop_blocks(text)
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


def _drop_blocks(text: str) -> str:
    """Remove comments and script/style elements in one left-to-right pass.

    An unclosed one hides the rest of the text, as it does in a browser; searching on for a close
    that never comes is what made the regex version quadratic. Each search starts where the last
    one ended, so every character is read once.
    """
    pieces, pos = [], 0
    while opening := _BLOCK_OPEN.search(text, pos):
        close = _BLOCK_CLOSE[(opening.group(1) or "").lower()].search(text, opening.end())
        pieces.append(text[pos:opening.start()])
        if close is None:
            return " ".join(pieces)
        pieces.append(" ")
        pos = close.end()
    pieces.append(text[pos:])
    return "".join(pieces)
