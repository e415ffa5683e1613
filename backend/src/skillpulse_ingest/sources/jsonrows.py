"""JSON responses whose rows remember their own text, so raw_json is the provider's exact row.

Re-encoding every row with json.dumps was two thirds of the cost of normalizing it; slicing
the text the decoder has just read is free. Otherwise the result is json.loads's.
"""

from __future__ import annotations

import json
import re

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


class Row(dict):
    """An object from an array in a response; `text` is its JSON exactly as the source sent it."""

    __slots__ = ("text",)


def loads(text: str):
    """json.loads, except that objects in a top-level array, or in the arrays of a top-level
    object, come back as Rows."""
    pos = _skip(text, 0)
    if text.startswith("[", pos):
        body, pos = _array(text, pos)
    elif text.startswith("{", pos):
        body, pos = _object(text, pos)
    else:
        return json.loads(text)
    if _skip(text, pos) != len(text):
        return json.loads(text)  # raises json's own "Extra data" error
    return body


def _object(text: str, pos: int) -> tuple[dict, int]:
    body: dict = {}
    pos = _skip(text, pos + 1)
    closed = text.startswith("}", pos)
    pos += closed
    while not closed:
        key, pos = _DECODER.raw_decode(text, pos)
        if not isinstance(key, str):
            raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, pos)
        pos = _skip(text, pos)
        if not text.startswith(":", pos):
            raise json.JSONDecodeError("Expecting ':' delimiter", text, pos)
        pos = _skip(text, pos + 1)
        body[key], pos = _array(text, pos) if text.startswith("[", pos) else _DECODER.raw_decode(text, pos)
        pos, closed = _next(text, pos, "}")
    return body, pos


def _array(text: str, pos: int) -> tuple[list, int]:
    items: list = []
    pos = _skip(text, pos + 1)
    closed = text.startswith("]", pos)
    pos += closed
    while not closed:
        item, end = _DECODER.raw_decode(text, pos)
        if isinstance(item, dict):
            item = Row(item)
            item.text = text[pos:end]
        items.append(item)
        pos, closed = _next(text, end, "]")
    return items, pos


def _next(text: str, pos: int, closing: str) -> tuple[int, bool]:
    """After a value: the start of the next one, or the position past the closing bracket."""
    pos = _skip(text, pos)
    if text.startswith(",", pos):
        return _skip(text, pos + 1), False
    if text.startswith(closing, pos):
        return pos + 1, True
    raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)


def _skip(text: str, pos: int) -> int:
    return _SPACE.match(text, pos).end()
