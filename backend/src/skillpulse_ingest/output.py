"""Rendering rows for people (aligned tables) and for programs (JSON, CSV). No business logic."""

from __future__ import annotations

import csv
import io
import json
from typing import Iterable, Sequence, TextIO


def table(rows: Iterable[dict], columns: Sequence[str], widths: dict[str, int] | None = None) -> str:
    """Aligned columns with a header; long cells are cut with an ellipsis."""
    widths = widths or {}
    cells = [[_cut(_text(row.get(c)), widths.get(c)) for c in columns] for row in rows]
    sizes = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(sizes[i]) for i, c in enumerate(columns)).rstrip(),
             "  ".join("-" * s for s in sizes)]
    lines += ["  ".join(r[i].ljust(sizes[i]) for i in range(len(columns))).rstrip() for r in cells]
    return "\n".join(lines)


def to_json(data) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


def to_csv(rows: Iterable[dict], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().rstrip("\n")


def write_csv(rows: Iterable[dict], columns: Sequence[str], stream: TextIO) -> int:
    """CSV with a header, one row at a time (constant memory); returns the number of rows."""
    writer = csv.DictWriter(stream, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count


def write_json_array(rows: Iterable, stream: TextIO) -> int:
    """A JSON array written one element at a time (constant memory); returns the number of rows."""
    count = 0
    for row in rows:
        stream.write("[\n" if count == 0 else ",\n")
        stream.write(json.dumps(row, ensure_ascii=False))
        count += 1
    stream.write("[]\n" if count == 0 else "\n]\n")
    return count


def write_lines(rows: Iterable, stream: TextIO) -> int:
    """Newline-delimited JSON: one object a line; returns the number of rows."""
    count = 0
    for row in rows:
        stream.write(json.dumps(row, ensure_ascii=False))
        stream.write("\n")
        count += 1
    return count


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return " ".join(str(value).split())


def _cut(text: str, width: int | None) -> str:
    if width is None or len(text) <= width:
        return text
    return text[: width - 1] + "…"
