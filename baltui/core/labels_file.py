"""Labels given in a file: a labels.csv (item,label, as `baltui label --export` writes it) or a labels.json.

Label mode's `--oracle` and `baltui next --labels` both read them here, so a file one of them writes or reads
the other reads the same way. An image is named by its `item` (a file's path in the folder, an .npz's index as
text; `path` is read as item) or by its `index` (its position in the images). A label is a class name, or in
JSON a class index (a whole number).

    labels.csv    item,label          labels.json   {"cat/001.png": "cat", ...}
                  cat/001.png,cat                   or [{"item": "cat/001.png", "label": "cat"}, ...]
                                                    or [{"index": 12, "label": 0}, ...]
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baltui.core.errors import BaltuiError

KEYS = ("item", "path", "index")  # what names an image; `path` is read as `item`


@dataclass(frozen=True)
class LabelRows:
    """Each labelled image's label, by item (its name) or by index (its position), in the file's order."""

    by: str  # "item" or "index"
    labels: dict[str, str | int]  # the item (an index as text) -> its label: a class name, or a class index


def read_labels(path: str | Path, what: str) -> LabelRows:
    """A labels.csv or labels.json; `what` starts every refusal (e.g. "--labels labels.csv")."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return read_labels_csv(path, what)
    if suffix == ".json":
        return _read_json(path, what)
    raise BaltuiError(f"{what}: give a labels.csv (item,label) or a labels.json")


def read_labels_csv(path: str | Path, what: str) -> LabelRows:
    """item (or index) -> class name, from a header with item (or path, or index) and label columns."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            rows = [row for row in csv.reader(f) if row]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BaltuiError(f"{what} is not a readable CSV file ({exc})") from None
    header = [c.strip() for c in rows[0]] if rows else []
    key = next((k for k in KEYS if k in header), None)
    if key is None or "label" not in header:
        raise BaltuiError(f"{what} needs a header with columns item,label (as --export --format csv writes)")
    at, label_at = header.index(key), header.index("label")
    names: dict[str, str | int] = {}
    for n, row in enumerate(rows[1:], start=2):
        if len(row) <= max(at, label_at):
            raise BaltuiError(f"{what}: line {n} has {len(row)} column(s); expected {key},label")
        _put(names, row[at].strip() if key == "index" else row[at], row[label_at].strip(), what)
    return LabelRows("index" if key == "index" else "item", names)


def _put(names: dict[str, str | int], item: str, label: str | int, what: str) -> None:
    if names.get(item, label) != label:
        raise BaltuiError(f"{what}: item {item} is labelled both '{names[item]}' and '{label}'")
    names[item] = label


def _label(value: Any, what: str, item: str) -> str | int:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise BaltuiError(f"{what}: the label of {item} is {value!r}; give a class name or a class index")


def _read_json(path: str | Path, what: str) -> LabelRows:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise BaltuiError(f"{what} cannot be read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise BaltuiError(f"{what} is not valid JSON ({exc})") from None
    names: dict[str, str | int] = {}
    if isinstance(data, dict):
        for item, value in data.items():
            _put(names, item, _label(value, what, item), what)
        return LabelRows("item", names)
    if not isinstance(data, list):
        raise BaltuiError(f"{what} must hold an object (item -> label) or a list of {{item or index, label}}")
    by = None
    for n, entry in enumerate(data):
        key = next((k for k in KEYS if isinstance(entry, dict) and k in entry), None)
        if key is None or "label" not in entry:
            raise BaltuiError(f"{what}: entry {n} is not an object with item (or index) and label")
        kind = "index" if key == "index" else "item"
        if by not in (None, kind):
            raise BaltuiError(f"{what} names some images by item and others by index; use one of them")
        by, item = kind, entry[key]
        if kind == "index" and (isinstance(item, bool) or not isinstance(item, int)):
            raise BaltuiError(f"{what}: entry {n} has index {item!r}; an index is a whole number")
        _put(names, str(item), _label(entry["label"], what, str(item)), what)
    return LabelRows(by or "item", names)
