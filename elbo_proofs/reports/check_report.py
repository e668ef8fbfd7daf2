"""Terminal and JSON reports of `elbo-proofs check`.

Plain data in: the checker's results are read by attribute (verdict strings,
numbers, the step's own text); nothing here imports the checker or SymPy.
"""
from __future__ import annotations

import json

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ..numbers import number as _fmt

PROVED, SUPPORTED, REFUTED, NOT_CHECKABLE = "proved", "supported", "refuted", "not checkable"
STYLE = {
    PROVED: "bold green",
    SUPPORTED: "yellow",
    REFUTED: "bold red",
    NOT_CHECKABLE: "magenta",
}


def _status(v) -> str:
    """The verdict's status as its word ("proved", ...)."""
    return getattr(v.status, "value", v.status)


def derivation_to_dict(result) -> dict:
    def step(s):
        v = s.verdict
        return {
            "step": s.number, "line": s.line, "expression": s.text, "relation": s.relation,
            "justification": s.justification, "verdict": _status(v), "proved": _status(v) == PROVED, "method": v.method,
            "message": v.message, "rewrites": v.rewrites, "certificate": v.certificate,
            "examples": v.examples, "seconds": round(v.seconds, 4), "contradiction": v.contradiction,
            "counterexample": None if v.counterexample is None else {
                "values": v.counterexample.values, "lhs": v.counterexample.lhs,
                "rhs": v.counterexample.rhs, "model": v.counterexample.model,
            },
        }

    return {
        "path": result.path, "title": result.title, "proved": result.proved, "start": result.start_text,
        "chain_relation": result.chain_relation,
        "steps": [step(s) for s in result.steps],
        "goal": step(result.goal) if result.goal else None,
    }


def print_json(results, errors, file=None) -> None:
    payload = {"derivations": [derivation_to_dict(r) for r in results], "errors": errors}
    print(json.dumps(payload, indent=2, default=str), file=file)


def print_table(result, console: Console, *, show_rules: bool = False) -> None:
    table = Table(title=f"{escape(result.title)}  [dim]{escape(str(result.path or ''))}[/dim]", title_justify="left", expand=False)
    table.add_column("step", justify="right")
    table.add_column("rel", justify="center")
    table.add_column("expression", overflow="fold", max_width=60)
    table.add_column("verdict")
    table.add_column("method")
    table.add_column("time", justify="right")
    rows = list(result.steps) + ([result.goal] if result.goal else [])
    if result.start_text:
        table.add_row("1", "", Text(result.start_text), Text("start", style="dim"), "", "")
    for s in rows:
        v = s.verdict
        label = "goal" if s is result.goal else str(s.number)
        table.add_row(label, s.relation, Text(s.text), Text(_status(v), style=STYLE[_status(v)]), v.method,
                      f"{v.seconds * 1000:.0f} ms")
    console.print(table)
    for s in rows:
        v = s.verdict
        label = "goal" if s is result.goal else f"step {s.number}"
        where = f" (line {s.line})" if s.line else ""
        if show_rules and v.rewrites and _status(v) == PROVED:
            console.print(Text(f"  {label}: {', '.join(v.rewrites)}" + (f"; {v.certificate}" if v.certificate else ""), style="dim"))
        if _status(v) != PROVED:
            console.print(Text(f"  {label}{where}: {_status(v)}: {v.message}", style=STYLE[_status(v)]))
            if v.counterexample is not None:
                ce = v.counterexample
                vals = ", ".join(f"{k}={_fmt(x)}" for k, x in ce.values.items())
                console.print(Text(f"    counterexample{f' ({ce.model})' if ce.model else ''}: {vals}"))
                console.print(Text(f"    left side = {_fmt(ce.lhs)}, right side = {_fmt(ce.rhs)}"))
    summary = "all steps proved" if result.proved else "; ".join(
        f"{n} {st}" for st, n in _counts(rows).items() if st != PROVED and n)
    console.print(f"[bold]{'✓' if result.proved else '✗'} {summary}[/bold]\n")


def _counts(rows):
    out = {st: 0 for st in STYLE}
    for s in rows:
        out[_status(s.verdict)] += 1
    return out
