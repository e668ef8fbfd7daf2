"""Type-and-shape schemas for YAML input files, checked before any value is used.

A schema describes a file once (see ``parsing/derivation.py`` and
``grading/assignment.py``); ``validate`` walks the loaded data with it and
either returns cleaned data (texts as ``str``, numbers as ``float``, empty
optional fields dropped) or raises one InputError naming the file, the line
and the field, e.g. ``f.yaml:4: field parts[1]: unknown field 7 (known: goal,
steps, title)``.  Mappings in the result keep their lines under
``inputs.LINE_KEY`` / ``inputs.LINES_KEY``.
"""
from __future__ import annotations

import datetime
import math
import re
from dataclasses import dataclass, field

from .errors import InputError
from .inputs import LINE_KEY, LINES_KEY, LinedList, item_line

_META = (LINE_KEY, LINES_KEY)


def describe(value) -> str:
    """What a YAML value is, in words, for error messages."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return f"{'true' if value else 'false'} (a yes/no value)"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return "a date"
    if isinstance(value, (bytes, bytearray)):
        return "binary data"
    if isinstance(value, set):
        return "a set"
    return "an unsupported value"


@dataclass
class _Where:
    path: str | None
    field: str
    line: int | None

    def child(self, name: str, line: int | None) -> "_Where":
        sep = "" if not self.field or name.startswith("[") else "."
        return _Where(self.path, f"{self.field}{sep}{name}", line or self.line)

    def error(self, message: str) -> InputError:
        prefix = f"field {self.field}: " if self.field else ""
        return InputError(prefix + message, file=self.path, line=self.line)


class Schema:
    expected = "a value"

    def clean(self, value, where: _Where):
        raise NotImplementedError

    def accepts(self, value) -> bool:
        return True


@dataclass
class Text(Schema):
    """A scalar written as text; YAML numbers are accepted and kept as their text."""
    max_length: int = 10_000
    expected: str = "text"

    def accepts(self, value) -> bool:
        return isinstance(value, (str, int, float)) and not isinstance(value, bool)

    def clean(self, value, where):
        if not self.accepts(value):
            raise where.error(f"expected {self.expected}, got {describe(value)}")
        text = value if isinstance(value, str) else repr(value)
        if len(text) > self.max_length:
            raise where.error(f"text is {len(text)} characters long; the limit is {self.max_length}")
        return text


@dataclass
class Name(Schema):
    """A name written as text: a letter, then letters, digits or underscores."""
    max_length: int = 100
    expected: str = "a name"

    def accepts(self, value) -> bool:
        return isinstance(value, str)

    def clean(self, value, where):
        if not isinstance(value, str):
            raise where.error(f"expected {self.expected}, got {describe(value)}")
        if len(value) > self.max_length or not _NAME.fullmatch(value):
            raise where.error(f"expected {self.expected} (a letter, then letters, digits or _), "
                              f"got {value[:40]!r}")
        return value


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


@dataclass
class Number(Schema):
    minimum: float = 0.0
    positive: bool = False
    maximum: float = 1e9
    expected: str = "a number"

    def accepts(self, value) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    def clean(self, value, where):
        if not self.accepts(value):
            raise where.error(f"expected a number, got {describe(value)}")
        value = float(value)
        if not math.isfinite(value) or value > self.maximum:
            raise where.error(f"{value!r} is out of range (at most {self.maximum:g})")
        if value < self.minimum or (self.positive and value <= 0):
            raise where.error(f"must be {'positive' if self.positive else f'at least {self.minimum:g}'}, got {value:g}")
        return value


@dataclass
class ListOf(Schema):
    item: Schema
    min_length: int = 0
    max_length: int = 1000
    expected: str = "a list"
    too_short: str = ""

    def accepts(self, value) -> bool:
        return isinstance(value, list)

    def clean(self, value, where):
        if not isinstance(value, list):
            raise where.error(f"expected {self.expected}, got {describe(value)}")
        if len(value) < self.min_length:
            raise where.error(self.too_short or ("must not be empty" if self.min_length == 1
                                                 else f"needs at least {self.min_length} entries, has {len(value)}"))
        if len(value) > self.max_length:
            raise where.error(f"{len(value)} entries; the limit is {self.max_length}")
        out = LinedList()
        out.lines = []
        for n, item in enumerate(value, start=1):
            line = item.get(LINE_KEY) if isinstance(item, dict) else item_line(value, n - 1)
            out.append(self.item.clean(item, where.child(f"[{n}]", line)))
            out.lines.append(line)
        return out


def _lines(value: dict) -> dict:
    return value.get(LINES_KEY) or {}


@dataclass
class MapOf(Schema):
    """name: value pairs; every name is text."""
    value: Schema
    max_length: int = 1000
    expected: str = "a mapping of name: value"

    def accepts(self, value) -> bool:
        return isinstance(value, dict)

    def clean(self, value, where):
        if not isinstance(value, dict):
            raise where.error(f"expected {self.expected}, got {describe(value)}")
        lines = _lines(value)
        items = [(k, v) for k, v in value.items() if k not in _META]
        if len(items) > self.max_length:
            raise where.error(f"{len(items)} entries; the limit is {self.max_length}")
        out = {LINE_KEY: value.get(LINE_KEY) or where.line, LINES_KEY: {}}
        for k, v in items:
            at = where.child(str(k), lines.get(k))
            if not isinstance(k, str):
                raise at.error(f"a name must be text, got {describe(k)} {k!r}")
            out[k] = self.value.clean(v, at)
            out[LINES_KEY][k] = lines.get(k)
        return out


@dataclass
class Record(Schema):
    """A mapping with known fields; None for an optional field means absent."""
    fields: dict
    required: frozenset = frozenset()
    exactly_one: tuple = ()
    expected: str = "a mapping"

    def accepts(self, value) -> bool:
        return isinstance(value, dict)

    def clean(self, value, where):
        if not isinstance(value, dict):
            raise where.error(f"expected {self.expected}, got {describe(value)}")
        lines = _lines(value)
        known = ", ".join(sorted(self.fields))
        for k in value:
            if k not in _META and k not in self.fields:
                name = repr(k) if isinstance(k, str) else f"{k!r} ({describe(k)})"
                at = _Where(where.path, where.field, lines.get(k) or where.line)  # the key's line
                raise at.error(f"unknown field {name} (known: {known})")
        out = {LINE_KEY: value.get(LINE_KEY) or where.line, LINES_KEY: {}}
        for name, schema in self.fields.items():
            raw = value.get(name)
            if raw is None:
                if name in self.required:
                    raise where.error(f"missing field '{name}'")
                continue
            out[name] = schema.clean(raw, where.child(name, lines.get(name)))
            out[LINES_KEY][name] = lines.get(name)
        if self.exactly_one:
            present = [n for n in self.exactly_one if n in out]
            if len(present) != 1:
                names = " or ".join(f"'{n}'" for n in self.exactly_one)
                raise where.error(f"needs exactly one of {names}" if present else f"missing field {names}")
        return out


@dataclass
class Either(Schema):
    """The first alternative whose type accepts the value."""
    options: tuple = field(default_factory=tuple)

    def accepts(self, value) -> bool:
        return any(o.accepts(value) for o in self.options)

    def clean(self, value, where):
        for option in self.options:
            if option.accepts(value):
                return option.clean(value, where)
        wanted = " or ".join(o.expected for o in self.options)
        raise where.error(f"expected {wanted}, got {describe(value)}")


def validate(schema: Schema, data, path=None, *, what: str = ""):
    """Cleaned ``data``, or one InputError naming file, line and field."""
    line = data.get(LINE_KEY) if isinstance(data, dict) else None
    where = _Where(str(path) if path is not None else None, what, line)
    return schema.clean(data, where)


def strip(mapping: dict) -> dict:
    """A cleaned mapping without its line bookkeeping."""
    return {k: v for k, v in mapping.items() if k not in _META}


def line_of(mapping: dict, key=None):
    """The line of ``mapping`` (or of its value under ``key``), if known."""
    if not isinstance(mapping, dict):
        return None
    if key is not None:
        line = (mapping.get(LINES_KEY) or {}).get(key)
        if line:
            return line
    return mapping.get(LINE_KEY)
