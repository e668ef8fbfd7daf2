"""Terminal report of `elbo-proofs grade`: one table per submission.

Columns: the file line, the student's LaTeX, the verdict, and what to say about
it -- for a wrong step the counterexample and, where one was found, the nearest
correct form ("the sign of log(P(X)) is flipped").  Plain data in (dicts from
SubmissionResult.to_dict()), rich out.
"""
from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..numbers import number as _fmt
from .markdown import read_as_rows

STYLE = {"valid": "green", "invalid": "bold red", "unverified": "yellow", "unparsed": "magenta"}
MAX_LATEX = 90


def _short(text: str, n: int = MAX_LATEX) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _sides(cx: dict) -> tuple[str, str]:
    """What the two sides are called: by their lines, the two sides of one line for a claim."""
    a, b = cx.get("lhs_line"), cx.get("rhs_line")
    if a is not None and b is not None and a != b:
        return f"line {a}", f"line {b}"
    if a is not None:
        return f"the left side of line {a}", "its right side"
    return "the left side", "the right side"


def counterexample_text(cx: dict | None) -> str:
    if not cx:
        return ""
    values = ", ".join(f"{k} = {_fmt(v)}" for k, v in (cx.get("values") or {}).items())
    model = f" ({cx['model']})" if cx.get("model") else ""
    left, right = _sides(cx)
    return (f"counterexample{model}: with {values or 'any values'}, {left} is {_fmt(cx.get('lhs'))} "
            f"but {right} is {_fmt(cx.get('rhs'))}")


def counterexample_md(cx: dict | None) -> str:
    """The counterexample in Markdown, names as $LaTeX$."""
    if not cx:
        return ""
    from .markdown import escape

    shown = cx.get("values_md") or cx.get("values") or {}
    values = ", ".join(f"{k} = {_fmt(v)}" if cx.get("values_md") else f"{escape(k)} = {_fmt(v)}"
                       for k, v in shown.items())
    model = f" ({escape(cx['model'])})" if cx.get("model") else ""
    left, right = _sides(cx)
    return (f"Counterexample{model}: with {values or 'any values'}, {left} is {_fmt(cx.get('lhs'))} "
            f"but {right} is {_fmt(cx.get('rhs'))}.")


def step_message(step: dict) -> str:
    msg = step.get("message") or ""
    if step.get("verdict") == "invalid" and step.get("counterexample"):
        msg += "\n" + counterexample_text(step["counterexample"])
    return msg


def render_submission(result: dict, console: Console, *, show_valid: bool = True) -> None:
    path = result.get("path", "")
    if result.get("status") == "ignored":
        console.print(Text.assemble((f"{path}: ", "bold"), ("ignored", "dim"), f" -- {result.get('reason', '')}"))
        return
    if result.get("status") != "graded":
        console.print(Text.assemble((f"{path}: ", "bold"), ("not graded", "bold red"),
                                    f" -- {result.get('reason', '')}"))
        return
    table = Table(title=Text(str(path)), title_justify="left", show_lines=False, expand=False)
    table.add_column("line", justify="right", no_wrap=True)
    table.add_column("rel", no_wrap=True)
    table.add_column("student's LaTeX", overflow="fold", max_width=60)
    table.add_column("verdict", no_wrap=True)
    table.add_column("notes", overflow="fold", max_width=70)
    for s in result.get("steps", []):
        if not show_valid and s.get("verdict") == "valid" and not s.get("back_on_track"):
            continue
        verdict = s.get("verdict", "")
        label = verdict + (" (back on track)" if s.get("back_on_track") else "")
        if verdict == "valid" and s.get("carries_error"):
            label = "follows (carries error)"
        elif verdict in ("unverified", "unparsed"):
            label = f"{verdict}: review"
        # Text objects, never markup strings: students' LaTeX is full of [brackets]
        table.add_row(Text(str(s.get("line") or "")), Text(s.get("relation") or ""), Text(_short(s.get("latex", ""))),
                      Text(label, style=STYLE.get(verdict, "")), Text(step_message(s)))
    console.print(table)
    counts = result.get("counts") or {}
    first = result.get("first_error_line")
    summary = Text.assemble(
        ("score ", "bold"), (f"{result.get('score', 0):g}/{result.get('max_score', 0):g}", "bold"),
        (" provisional" if result.get("provisional") else "", "yellow"),
        f"  ({result.get('score_explanation', '')})  ",
        ("first error: ", "bold"), (f"line {first}" if first else "none", "red" if first else "green"),
        "  " + ", ".join(f"{v} {k}" for k, v in counts.items() if v),
    )
    console.print(summary)
    goal = result.get("goal")
    if goal:
        console.print(Text.assemble(("goal: ", "bold"), goal.get("text", ""), " -- ",
                                    (goal.get("message", ""), "green" if goal.get("reached") else "red")))
    for p in result.get("problems") or []:
        if "score" in p:
            console.print(Text.assemble((f"problem {p.get('name')}: ", "bold"),
                                        f"{p.get('score', 0):g}/{p.get('max_score', 0):g}  ({p.get('explanation', '')})"))
    review = result.get("needs_review") or []
    if review:
        console.print(Text(f"needs review by a person ({len(review)} line{'s' if len(review) != 1 else ''}; "
                           "the score is provisional):", style="bold yellow"))
        for item in review:
            where = ", ".join(x for x in (item.get("file") or "", f"line {item['line']}" if item.get("line") else "")
                              if x)
            console.print(Text(f"  {where + ': ' if where else ''}{item.get('reason', '')}"))
    rows = read_as_rows(result.get("read_as") or [])
    if rows:
        console.print(Text("read as, not graded:", style="bold"))
        for where, role, latex, word in rows:
            console.print(Text.assemble(f"  {where + ': ' if where else ''}", (role, "cyan"), f"  {_short(latex)}",
                                        (f"  (after '{word}')" if word else "", "dim")))
    for note in result.get("notes") or []:
        console.print(Text(f"note: {note}", style="dim"))
    console.print()


def render(results: list[dict], console: Console | None = None) -> None:
    console = console or Console(highlight=False)
    for r in results:
        render_submission(r, console)
    if len(results) > 1:
        summary = Table(title=Text("summary"), title_justify="left")
        for col, just in (("submission", "left"), ("score", "right"), ("first error", "right"), ("valid", "right"),
                          ("invalid", "right"), ("unverified", "right"), ("unparsed", "right"), ("status", "left")):
            summary.add_column(col, justify=just, no_wrap=col != "submission", overflow="fold")
        for r in results:
            c = r.get("counts") or {}
            first = r.get("first_error_line")
            status = r.get("status", "")
            summary.add_row(
                Text(str(r.get("path", ""))), Text(f"{r.get('score', 0):g}/{r.get('max_score', 0):g}"),
                Text(str(first) if first else "-", style="red" if first else ""),
                *(Text(str(c.get(k, 0))) for k in ("valid", "invalid", "unverified", "unparsed")),
                Text(status if status == "graded" else f"{status}: {r.get('reason', '')}",
                     style="" if status == "graded" else "bold red"))
        console.print(summary)
        graded = [r for r in results if r.get("status") == "graded"]
        wrong = sum(1 for r in graded if r.get("first_error_line"))
        not_graded = len(results) - len(graded)
        console.print(Text.assemble(("total: ", "bold"), f"{len(results)} submissions, {len(graded)} graded, "
                                    f"{wrong} with an error, {not_graded} not graded"))


def render_to_string(results: list[dict], width: int = 160) -> str:
    console = Console(record=True, width=width, highlight=False, force_terminal=False, color_system=None,
                      file=_Null())
    render(results, console)
    return console.export_text()


class _Null:
    def write(self, *_):
        return 0

    def flush(self):
        pass
