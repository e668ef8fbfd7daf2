"""The structure of a submission, read as Markdown: where its math is, with exact lines."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from elbo_proofs.parsing.document import find_segments
from elbo_proofs.parsing.submission import read_submission_text


def segs(text, **kw):
    """(line where the math itself starts, kind, math) of each segment."""
    out = []
    for s in find_segments(text, **kw):
        lead = len(s.content) - len(s.content.lstrip())
        out.append((text.count("\n", 0, s.start + lead) + 1, s.kind, s.content.strip()))
    return out


def chain_lines(text, path="t.md"):
    return [[(m.line, m.latex) for m in c.lines] for c in read_submission_text(text, path=path).chains]


def test_every_display_spelling_with_its_line():
    text = ("# Setup\n"                               # 1
            "We have\n"                               # 2
            "$$\n"                                    # 3
            "a = b\n"                                 # 4
            "$$\n"                                    # 5
            "\n"
            "\\[\n"                                   # 7
            "c = d\n"                                 # 8
            "\\]\n"
            "\n"
            "\\begin{aligned}\n"                      # 11
            "e &= f\n"
            "\\end{aligned}\n"
            "\n"
            "so $$g = h$$ and \\[i = j\\] inline.\n")  # 15
    assert segs(text) == [(4, "display", "a = b"), (8, "display", "c = d"),
                          (11, "display", "\\begin{aligned}\ne &= f\n\\end{aligned}"),
                          (15, "inline", "g = h"), (15, "display", "i = j")]


def test_kramdown_double_dollars_are_inline_inside_a_sentence_and_display_alone():
    text = "the notation $$\\mathbf{x}$$ for all\n\n$$a = b$$\n"
    assert segs(text) == [(1, "inline", "\\mathbf{x}"), (3, "display", "a = b")]
    # rows broken with \\ after a word are a display written on the prose's line
    text = "Hence $$a = b\\\\\n= c$$\n"
    assert segs(text) == [(1, "display", "a = b\\\\\n= c")]


def test_inline_spellings_and_prose():
    text = "Let $a = 1$ and \\(b = 2\\); also $c\n= 3$ here.\n"
    found = find_segments(text)
    assert [(s.kind, s.content) for s in found] == [("inline", "a = 1"), ("inline", "b = 2"), ("inline", "c\n= 3")]
    assert found[0].before.strip() == "Let"
    assert found[1].before.strip() == "and"


def test_code_html_and_escaped_dollars_are_not_math():
    text = ("```\n$$ x = 1 $$\n```\n\n"
            "    $$ y = 2 $$\n\n"
            "<div>\n$z = 3$\n</div>\n\n"
            "Price \\$5, code `$w = 4$`, and $v = 5$.\n")
    assert segs(text) == [(11, "inline", "v = 5")]


def test_quotes_and_lists_keep_exact_lines():
    text = ("> quoted\n"            # 1
            "> $$\n"                # 2
            "> \\log p(x) = a \\\\\n"  # 3
            ">   = b\n"             # 4
            "> $$\n"
            "\n"
            "- where $\\epsilon \\sim \\mathcal{N}(0, 1)$\n"  # 7
            "- and\n"
            "  $$ p(z) = \\mathcal{N}(z; 0, 1) $$\n")         # 9
    found = find_segments(text)
    assert ">" not in found[0].content
    assert [(text.count("\n", 0, s.start) + 1, s.in_list) for s in found] == [(2, False), (7, True), (9, True)]
    # offsets inside the math are file offsets: line numbers of rows are exact
    for s in found:
        raw = text[s.start:s.end]
        assert len(raw) == len(s.content)
        assert all(a == b or a == ">" and b == " " for a, b in zip(raw, s.content))


def test_a_quote_chain_is_read_with_its_lines():
    text = "> $$\n> \\log p(x) = \\log p(x) + 0 \\\\\n> = \\log p(x)\n> $$\n"
    assert chain_lines(text) == [[(2, "\\log p(x)"), (2, "\\log p(x) + 0"), (3, "\\log p(x)")]]


def test_notebook_display_right_after_prose_may_hold_plus_and_minus_rows():
    # a row starting with '+' or '-' would start a list if the display were a paragraph
    text = "Expanding:\n$$\n\\log p(x)\n= a\n+ b\n- c\n$$\n"
    assert segs(text) == [(3, "display", "\\log p(x)\n= a\n+ b\n- c")]


def test_latex_files_have_no_indented_code():
    text = "\\section{x}\n\n    \\begin{align}\n    a &= b\n    \\end{align}\n"
    assert [k for _, k, _ in segs(text, latex_file=True)] == ["display"]
    assert segs(text) == []   # in Markdown the same lines are a code block
    assert chain_lines(text, path="t.tex") == [[(4, "a"), (4, "b")]]


def test_unclosed_markers_are_prose():
    assert segs("a $$ b\n\n\\[ c\n\n\\begin{align} d\n\n$e\n") == []


# -- any arrangement of blocks: math found once, at its line, its text the file's ----------------
_MATH = ["a = b", "\\log p(x) \\geq c", "q(z|x) = \\mathcal{N}(\\mu, 1)", "x_1 = 2^{n}"]
_block = st.one_of(
    st.builds(lambda m: ("$$\n%s\n$$" % m, [m], "display"), st.sampled_from(_MATH)),
    st.builds(lambda m: ("\\[\n%s\n\\]" % m, [m], "display"), st.sampled_from(_MATH)),
    st.builds(lambda m: ("so $%s$ holds." % m, [m], "inline"), st.sampled_from(_MATH)),
    st.builds(lambda m: ("- item \\(%s\\)" % m, [m], "inline"), st.sampled_from(_MATH)),
    st.builds(lambda m: ("> $$%s$$" % m, [m], "display"), st.sampled_from(_MATH)),
    st.builds(lambda m: ("```\n$%s$\n```" % m, [], None), st.sampled_from(_MATH)),
    st.just(("Plain words, no math.", [], None)),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_block, max_size=8))
def test_blocks_in_any_order(blocks):
    text = "\n\n".join(b for b, _, _ in blocks) + "\n"
    expected, line = [], 1
    for b, maths, kind in blocks:
        for m in maths:
            at = line + b[:b.index(m)].count("\n")
            expected.append((at, kind, m))
        line += b.count("\n") + 2
    assert segs(text) == expected
