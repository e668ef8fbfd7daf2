"""Reading untrusted files: bounded bytes from regular files, YAML without bombs.

Every reader of a file named on the command line goes through here, so that a
FIFO, a device, a symlink to /dev/zero or a file that grows while it is read
costs nothing but one clear line (an InputError naming the file).

YAML is loaded with the safe constructors only, without aliases (``*name``:
a few hundred bytes of aliases can expand to gigabytes), with bounded nesting,
and with the line of every mapping and of every mapping value recorded for
error messages (``LINE_KEY`` and ``LINES_KEY`` in each mapping).
"""
from __future__ import annotations

import os
import stat

import yaml

from .errors import InputError

LINE_KEY = "__line__"     # the line of a mapping
LINES_KEY = "__lines__"   # {key: line of its value} of a mapping
MAX_YAML_DEPTH = 24
MAX_YAML_NODES = 20_000


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def read_bounded(path, max_bytes: int, *, what: str = "file") -> bytes:
    """The bytes of the regular file at ``path``, at most ``max_bytes`` of them.

    The file is opened without blocking (a FIFO would otherwise wait for a
    writer), checked to be a regular file on the open descriptor (so a symlink
    to a device is caught, and nothing can swap the file in between), and read
    no further than ``max_bytes + 1`` bytes whatever its size claims to be.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise InputError(f"cannot read {what}: {exc.strerror or exc}", file=str(path)) from None
    try:
        try:
            st = os.fstat(fd)
        except OSError as exc:
            raise InputError(f"cannot read {what}: {exc.strerror or exc}", file=str(path)) from None
        if not stat.S_ISREG(st.st_mode):
            raise InputError(f"cannot read {what}: it is {_kind(st.st_mode)}, not a regular file", file=str(path))
        if st.st_size > max_bytes:
            raise InputError(f"{what} is {st.st_size} bytes; the limit is {max_bytes}", file=str(path))
        chunks, total = [], 0
        while total <= max_bytes:
            try:
                chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            except BlockingIOError:
                raise InputError(f"cannot read {what}: it does not answer", file=str(path)) from None
            except OSError as exc:
                raise InputError(f"cannot read {what}: {exc.strerror or exc}", file=str(path)) from None
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > max_bytes:
            raise InputError(f"{what} is more than {max_bytes} bytes; the limit is {max_bytes}", file=str(path))
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_text(path, max_bytes: int, *, what: str = "file") -> str:
    """``read_bounded`` decoded as UTF-8 (a leading byte-order mark is dropped)."""
    raw = read_bounded(path, max_bytes, what=what)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} is not UTF-8 text (byte {exc.start})", file=str(path)) from None


class LinedList(list):
    """A YAML list that remembers the line of each item (``lines[n]``; None where unknown)."""

    lines: list = []


def item_line(items, n: int):
    """The line of item ``n`` (0-based) of a list read from YAML, if known."""
    lines = getattr(items, "lines", None) or []
    return lines[n] if n < len(lines) else None


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader without aliases, with bounded depth and node count, recording lines."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise InputError("YAML aliases (*name) are not allowed", line=mark.line + 1)
        self._nodes += 1
        if self._nodes > MAX_YAML_NODES:
            mark = self.peek_event().start_mark
            raise InputError(f"more than {MAX_YAML_NODES} YAML values", line=mark.line + 1)
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                mark = self.peek_event().start_mark
                raise InputError(f"YAML nested more than {MAX_YAML_DEPTH} levels deep", line=mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_yaml_seq(self, node):
        items = LinedList()
        items.lines = [child.start_mark.line + 1 for child in node.value]
        yield items
        items.extend(self.construct_sequence(node))

    def construct_mapping(self, node, deep=False):
        if not isinstance(node, yaml.MappingNode):
            return super().construct_mapping(node, deep=deep)
        self.flatten_mapping(node)
        mapping, lines = {}, {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise InputError("a YAML key must be a plain value, not a list or mapping",
                                 line=key_node.start_mark.line + 1) from None
            if key in mapping:
                raise InputError(f"field {key!r} appears twice", line=key_node.start_mark.line + 1)
            mapping[key] = self.construct_object(value_node, deep=deep)
            lines[key] = value_node.start_mark.line + 1
        mapping[LINE_KEY] = node.start_mark.line + 1
        mapping[LINES_KEY] = lines
        return mapping


_BoundedLoader.add_constructor("tag:yaml.org,2002:seq", _BoundedLoader.construct_yaml_seq)


def load_yaml(text: str, path=None):
    """Parse YAML text safely; every problem is one InputError naming the file and line."""
    try:
        return yaml.load(text, Loader=_BoundedLoader)
    except InputError as exc:
        raise exc.located(file=str(path) if path is not None else None) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"malformed YAML: {problem}", file=str(path) if path is not None else None,
                         line=mark.line + 1 if mark else None) from None
    except (ValueError, OverflowError, TypeError) as exc:  # e.g. a 5000-digit integer, a bad date
        raise InputError(f"malformed YAML value: {' '.join(str(exc).split())[:200]}",
                         file=str(path) if path is not None else None) from None
    except RecursionError:
        raise InputError("YAML nested too deeply", file=str(path) if path is not None else None) from None
