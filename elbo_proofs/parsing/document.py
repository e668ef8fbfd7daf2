"""The structure of a submission: where its math is, read with a Markdown parser.

markdown-it-py (CommonMark) finds the blocks: paragraphs, lists, quotes, headings, fenced
and indented code, HTML.  Math is recognised by mdit-py-plugins (``dollarmath`` for ``$..$``
and ``$$..$$``, also ``$$..$$`` inside a sentence as kramdown writes it, which is inline
math there as in kramdown when it is one row on one line (a display otherwise); ``amsmath`` for
top-level ``\\begin{align}`` and its kin) and by the rules below for ``\\[ .. \\]`` and
``\\( .. \\)`` and the environments amsmath leaves out (``aligned``, ``split``,
``gathered``, ...).  Code and HTML are left alone.

Every math segment keeps its exact place in the file: ``start`` is the offset of its
content, and ``content`` is exactly ``text[start:start + len(content)]`` except that the
markers of enclosing containers (``> `` of a quote) are blanked to spaces, so that any
offset inside it is a file offset and line numbers stay exact.

LaTeX files (.tex) are read with the same rules, without Markdown's indented code and
HTML blocks (indentation means nothing there).
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from markdown_it import MarkdownIt
from mdit_py_plugins.amsmath import amsmath_block, amsmath_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.dollarmath.index import math_block_dollar, math_inline_dollar

__all__ = ["Segment", "DISPLAY_ENVS", "find_segments"]

DISPLAY_ENVS = ("equation", "align", "aligned", "alignat", "alignedat", "gather", "gathered", "split",
                "eqnarray", "multline", "displaymath", "flalign")
_ENV_NAME = r"(?:%s)\*?" % "|".join(DISPLAY_ENVS)
_ENV_OPEN = re.compile(r"\\begin\s*\{(%s)\}" % _ENV_NAME)
MAX_INLINE = 2000    # characters of one inline formula
MAX_DISPLAY_CHARS = 50_000   # characters of one display
MAX_DISPLAY_LINES = 1000     # lines of one display


@dataclass
class Segment:
    kind: str          # "display" | "inline"
    start: int         # file offset of the content
    content: str
    before: str = ""   # prose just before (same paragraph)
    after: str = ""    # prose just after
    in_list: bool = False   # written in an item of a list (a list of definitions, say)

    @property
    def end(self) -> int:
        return self.start + len(self.content)


# ---------------------------------------------------------------------------
# rules for what the plugins leave out
# ---------------------------------------------------------------------------
def _escaped(src: str, pos: int) -> bool:
    n = 0
    while pos - 1 - n >= 0 and src[pos - 1 - n] == "\\":
        n += 1
    return n % 2 == 1


def _next(state, needle: str, pos: int) -> int:
    """Offset of the first ``needle`` at or after ``pos`` in the inline source, -1 if none; the
    offsets are found once per source, so that many unclosed openers cost no rescans."""
    cache = state.env.setdefault("next", {})
    key = (needle, state.src)
    if key not in cache:
        cache[key] = [m.start() for m in re.finditer(re.escape(needle), state.src)]
    offsets = cache[key]
    k = bisect.bisect_left(offsets, pos)
    return offsets[k] if k < len(offsets) else -1


def _bracket_inline(state, silent: bool) -> bool:
    r"""``\( .. \)`` (inline) and ``\[ .. \]`` (a display inside a paragraph)."""
    src, pos = state.src, state.pos
    if src[pos] != "\\" or pos + 1 >= len(src) or src[pos + 1] not in "([" or _escaped(src, pos):
        return False
    close = "\\)" if src[pos + 1] == "(" else "\\]"
    limit = pos + 2 + (MAX_INLINE if close == "\\)" else MAX_DISPLAY_CHARS)
    end = _next(state, close, pos + 2)
    while end >= 0 and _escaped(src, end):
        end = _next(state, close, end + 1)
    if end < 0 or end > limit:
        return False
    if not silent:
        tok = state.push("math_paren" if close == "\\)" else "math_bracket_inline", "math", 0)
        tok.content = src[pos + 2:end]
        tok.markup = src[pos:pos + 2]
    state.pos = end + 2
    return True


def _env_inline(state, silent: bool) -> bool:
    r"""``\begin{aligned} .. \end{aligned}`` written inside a paragraph: a display."""
    src, pos = state.src, state.pos
    if not src.startswith("\\begin", pos):
        return False
    m = _ENV_OPEN.match(src, pos)
    if not m:
        return False
    close = "\\end{%s}" % m.group(1)
    end = _next(state, close, m.end())
    if end < 0 or end > pos + MAX_DISPLAY_CHARS:
        return False
    if not silent:
        tok = state.push("math_env_inline", "math", 0)
        tok.content = src[pos:end + len(close)]
    state.pos = end + len(close)
    return True


def _block_lines(state, start_line: int, end_line: int, opener: str, closer: str):
    """Lines of a block math display opened by ``opener`` at the start of ``start_line``: the
    line holding ``closer`` (at its end), or None."""
    line = start_line
    first = state.bMarks[line] + state.tShift[line]
    text = state.src[first:state.eMarks[line]]
    if not text.startswith(opener):
        return None
    if closer in text[len(opener):]:
        return line if text.rstrip().endswith(closer) else None
    end_line = min(end_line, _closing_line(state, start_line, closer) + 1)
    while True:
        line += 1
        if line >= end_line:
            return None
        b, e = state.bMarks[line] + state.tShift[line], state.eMarks[line]
        if state.sCount[line] < state.blkIndent and b < e:
            return None   # the container (a list item, a quote) ended first
        text = state.src[b:e]
        if closer in text:
            return line if text.rstrip().endswith(closer) else None


def _push_block(state, kind: str, start_line: int, last: int) -> bool:
    """A display token over lines start_line..last; the block parser goes on after it."""
    tok = state.push(kind, "math", 0)
    tok.block = True
    tok.map = [start_line, last + 1]
    state.line = last + 1
    return True


def _bracket_block(state, start_line: int, end_line: int, silent: bool) -> bool:
    r"""``\[`` at the start of a line, ``\]`` at the end of the same or a later one."""
    if state.sCount[start_line] - state.blkIndent >= 4:
        return False
    last = _block_lines(state, start_line, end_line, "\\[", "\\]")
    if last is None:
        return False
    return silent or _push_block(state, "math_bracket_block", start_line, last)


def _env_block(state, start_line: int, end_line: int, silent: bool) -> bool:
    r"""``\begin{aligned}`` (and the other environments amsmath does not take) at the start
    of a line."""
    if state.sCount[start_line] - state.blkIndent >= 4:
        return False
    first = state.bMarks[start_line] + state.tShift[start_line]
    m = _ENV_OPEN.match(state.src, first, state.eMarks[start_line])
    if not m:
        return False
    last = _block_lines(state, start_line, end_line, m.group(0), "\\end{%s}" % m.group(1))
    if last is None:
        return False
    return silent or _push_block(state, "math_env_block", start_line, last)


def _closing_line(state, start_line: int, closer: str) -> int:
    """The first line after ``start_line`` (within MAX_DISPLAY_LINES) that ends with ``closer``,
    else ``start_line``: display rules scan no further, so that reading stays linear in
    the length of the file however many displays are left open."""
    index = state.env.setdefault("closers", {})
    if closer not in index:
        pattern = re.escape(closer) + (r"(?:[ \t]*\([^)$\n]+?\))?" if closer == "$$" else "")
        index[closer] = [m.start() for m in re.finditer(r"(?m)%s[ \t]*$" % pattern, state.src)]
    offsets = index[closer]
    after = state.eMarks[start_line] if start_line < len(state.eMarks) else len(state.src)
    k = bisect.bisect_right(offsets, after)
    if k == len(offsets):
        return start_line
    line = _line_at(state, offsets[k])
    return line if line - start_line <= MAX_DISPLAY_LINES else start_line


def _line_at(state, offset: int) -> int:
    starts = state.env.get("line_starts")
    if starts is None:
        starts = state.env["line_starts"] = [0] + [m.end() for m in re.finditer("\n", state.src)]
    return bisect.bisect_right(starts, offset) - 1


def _bounded(rule, closer_of):
    """A plugin's display rule that scans for its closing line only as far as the first line
    that can close it (see _closing_line)."""
    def bounded(state, start_line, end_line, silent):
        first = state.bMarks[start_line] + state.tShift[start_line]
        closer = closer_of(state.src[first:state.eMarks[start_line]])
        if closer is None:
            return False
        return rule(state, start_line, min(end_line, _closing_line(state, start_line, closer) + 1), silent)
    return bounded


def _dollar_closer(line: str):
    return "$$" if line.startswith("$$") else None


def _ams_closer(line: str):
    m = re.match(r"\\begin\{([A-Za-z]+\*?)\}", line)
    return "\\end{%s}" % m.group(1) if m else None


def _with_place(rule):
    """A block rule whose tokens also carry the block state's line marks, so that the
    exact file offsets of the math can be found (containers shift lines' starts).  Asked
    only whether it would match (``silent``), it leaves the state as it was."""
    def wrapped(state, start_line, end_line, silent):
        n, line = len(state.tokens), state.line
        ok = rule(state, start_line, end_line, silent)
        if silent:
            del state.tokens[n:]
            state.line = line
            return ok
        if ok and len(state.tokens) > n:
            tok = state.tokens[-1]
            first, last = tok.map[0], max(tok.map[0], tok.map[1] - 1)
            if tok.type == "amsmath":
                last = tok.map[1]   # amsmath's map ends at the closing line itself
            tok.meta = dict(tok.meta or {})
            tok.meta["place"] = (first, last, [state.bMarks[k] + state.tShift[k] for k in range(first, last + 1)],
                                 [state.eMarks[k] for k in range(first, last + 1)])
        return ok
    return wrapped


def _inline_with_place(rule):
    """An inline rule whose tokens carry their offsets in the inline source."""
    def wrapped(state, silent):
        start, n = state.pos, len(state.tokens)
        ok = rule(state, silent)
        if ok and not silent and len(state.tokens) > n:
            tok = state.tokens[-1]
            tok.meta = dict(tok.meta or {})
            tok.meta["span"] = (start, state.pos)
        return ok
    return wrapped


_INTERRUPTS = {"alt": ["paragraph", "reference", "blockquote", "list"]}


def _parser(latex_file: bool) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": not latex_file})
    if latex_file:
        md.disable(["code", "html_block", "html_inline"])
    dollarmath_plugin(md, allow_space=True, allow_digits=True, allow_blank_lines=True, double_inline=True)
    amsmath_plugin(md)
    # the same rules, made to keep their places; display math may interrupt a paragraph
    md.block.ruler.at("math_block", _with_place(_bounded(math_block_dollar(True, None, True), _dollar_closer)),
                      _INTERRUPTS)
    md.block.ruler.at("amsmath", _with_place(_bounded(amsmath_block, _ams_closer)), _INTERRUPTS)
    md.block.ruler.before("fence", "math_bracket_block", _with_place(_bracket_block), _INTERRUPTS)
    md.block.ruler.before("fence", "math_env_block", _with_place(_env_block), _INTERRUPTS)
    md.inline.ruler.at("math_inline", _inline_with_place(math_inline_dollar(True, True, True)))
    md.inline.ruler.before("escape", "math_bracket_inline", _inline_with_place(_bracket_inline))
    md.inline.ruler.before("escape", "math_env_inline", _inline_with_place(_env_inline))
    return md


_PARSERS: dict = {}


def _md(latex_file: bool) -> MarkdownIt:
    if latex_file not in _PARSERS:
        _PARSERS[latex_file] = _parser(latex_file)
    return _PARSERS[latex_file]


# ---------------------------------------------------------------------------
# from tokens to segments with file offsets
# ---------------------------------------------------------------------------
class _Text:
    def __init__(self, text: str):
        self.text = text
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line_start(self, k: int) -> int:
        return self.starts[k] if k < len(self.starts) else len(self.text)

    def line_end(self, k: int) -> int:
        nxt = self.line_start(k + 1)
        return nxt - 1 if k + 1 < len(self.starts) else len(self.text)

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset) - 1


def _block_segment(doc: _Text, tok) -> tuple[int, str] | None:
    """(file offset, content) of a block token's math, container markers blanked."""
    first, last, begins, ends = tok.meta["place"]
    begin, end = begins[0], ends[-1]
    region = doc.text[begin:end]
    if tok.type == "math_block" or tok.type == "math_block_label":
        c0 = begin + 2
        close = region.rfind("$$")
        c1 = begin + close if close >= 2 else end
    elif tok.type == "math_bracket_block":
        c0 = begin + 2
        close = region.rfind("\\]")
        c1 = begin + close if close >= 2 else end
    else:  # an environment: the content is the whole environment
        c0, c1 = begin, end
        at = region.rfind("\\end")
        m = re.match(r"\\end\s*\{[^{}]*\}", region[at:]) if at >= 0 else None
        if m:
            c1 = begin + at + m.end()
    if c1 <= c0:
        return None
    chars = list(doc.text[c0:c1])
    # blank what containers put before each line (a quote's '>', a list's indentation)
    for k, b in zip(range(first + 1, last + 1), begins[1:]):
        ls = doc.line_start(k)
        for off in range(max(ls, c0), min(b, c1)):
            chars[off - c0] = " "
    return c0, "".join(chars)


class _InlineMap:
    """Offsets in an inline token's content to file offsets: each line of the content is the
    end of one line of the file (containers and indentation cut off its start)."""

    def __init__(self, doc: _Text, tok):
        self.lines = []      # (offset in content, file offset of that content offset)
        self.body = {}       # file line -> file offset where its part of the content starts
        pos = 0
        first = tok.map[0] if tok.map else 0
        for k, line in enumerate(tok.content.split("\n")):
            body = line.lstrip()
            lead = len(line) - len(body)
            fk = first + k
            file_line = doc.text[doc.line_start(fk):doc.line_end(fk)]
            at = max(0, file_line.rfind(body)) if body else 0
            self.lines.append((pos + lead, doc.line_start(fk) + at))
            self.body[fk] = doc.line_start(fk) + at
            pos += len(line) + 1
        self._keys = [p for p, _ in self.lines]

    def __call__(self, offset: int) -> int:
        i = max(0, bisect.bisect_right(self._keys, offset) - 1)
        p, f = self.lines[i]
        return f + max(0, offset - p)


def _inline_segment(doc: _Text, src: str, tok, where: _InlineMap) -> tuple[int, str] | None:
    span = (tok.meta or {}).get("span")
    if span is None or not tok.content:
        return None
    s, e = span
    at = src[s:e].find(tok.content)
    if at < 0:
        return None
    c0 = s + at
    f0, f1 = where(c0), where(c0 + len(tok.content))
    chars = list(doc.text[f0:f1])
    # markers of containers (a quote's '>') on the later lines of the math are blanked
    for k in range(doc.line_of(f0) + 1, doc.line_of(f1) + 1):
        ls = doc.line_start(k)
        for off in range(max(ls, f0), min(where.body.get(k, ls), f1)):
            chars[off - f0] = " "
    return f0, "".join(chars)


_INLINE_MATH = {"math_inline": "inline", "math_paren": "inline", "math_inline_double": "display",
                "math_bracket_inline": "display", "math_env_inline": "display"}
_BLOCK_MATH = {"math_block", "math_block_label", "amsmath", "math_bracket_block", "math_env_block"}
_NOT_PROSE = {"fence", "code_block", "html_block"}


def find_segments(text: str, *, latex_file: bool = False) -> list[Segment]:
    """Every math segment of ``text``, in the order of the file, with the prose around it."""
    doc = _Text(text)
    tokens = _md(latex_file).parse(text)
    out: list[Segment] = []
    hidden: list[tuple[int, int]] = []   # code and HTML: no prose, no math
    list_depth = 0
    for tok in tokens:
        if tok.type in ("bullet_list_open", "ordered_list_open"):
            list_depth += 1
        elif tok.type in ("bullet_list_close", "ordered_list_close"):
            list_depth -= 1
        elif tok.type in _NOT_PROSE and tok.map:
            hidden.append((doc.line_start(tok.map[0]), doc.line_start(tok.map[1])))
        elif tok.type in _BLOCK_MATH and tok.meta and "place" in tok.meta:
            got = _block_segment(doc, tok)
            if got:
                out.append(Segment("display", got[0], got[1], in_list=list_depth > 0))
        elif tok.type == "inline" and tok.children:
            where = None
            for child in tok.children:
                kind = _INLINE_MATH.get(child.type)
                if kind is None:
                    continue
                if child.type == "math_inline_double" and tok.content.strip() != "$$%s$$" % child.content \
                        and not re.search(r"\n|\\\\|\\begin", child.content):
                    kind = "inline"   # kramdown: $$..$$ inside a sentence is inline math (one row of it)
                where = where or _InlineMap(doc, tok)
                got = _inline_segment(doc, tok.content, child, where)
                if got and got[1].strip() and (kind == "display" or len(got[1]) <= MAX_INLINE):
                    out.append(Segment(kind, got[0], got[1], in_list=list_depth > 0))
    out.sort(key=lambda s: s.start)
    _prose(text, out, hidden)
    return out


def _prose(text: str, segments: list[Segment], hidden) -> None:
    """The prose before each segment (its sentence, since the previous segment) and after it."""
    if hidden:
        chars = list(text)
        for a, b in hidden:
            for i in range(a, min(b, len(chars))):
                if chars[i] != "\n":
                    chars[i] = " "
        text = "".join(chars)
    prev_end = 0
    for i, seg in enumerate(segments):
        prose = text[prev_end:max(prev_end, seg.start)]
        seg.before = _last_sentence(_without_opener(prose))
        nxt = segments[i + 1].start if i + 1 < len(segments) else len(text)
        seg.after = text[seg.end: min(nxt, seg.end + 300)].lstrip("$ )]")[:200]
        prev_end = seg.end
        # past the closing marker of this segment
        m = re.match(r"\$\$|\$|\\\)|\\\]", text[prev_end:])
        if m:
            prev_end += m.end()


def _without_opener(prose: str) -> str:
    """The prose before a segment without the segment's own opening marker."""
    return re.sub(r"(?:\$\$|\$|\\\(|\\\[)\s*$", "", prose)


def _last_sentence(prose: str) -> str:
    prose = prose[-300:]
    cut = max(prose.rfind(". "), prose.rfind("\n\n"))
    return prose[cut + 1:] if cut >= 0 else prose
