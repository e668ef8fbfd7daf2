"""Values for the declared scalar parameters of a proved objective (`train --set NAME=VALUE`).

A derivation may end in an objective with a parameter that no tensor supplies: the beta of
`derivations/beta_vae.yaml` (`beta: positive`, `assume: beta >= 1`). Which names can be set,
and which values they accept, comes from the derivation's declarations alone:

- a settable parameter is a symbol declared under `symbols:` that the objective mentions and
  that is not a vector, an index or the range of an index (a size, read off the tensors), nor
  a variable of a density, a random variable, a sample or a `let:`;
- a value is a decimal or a fraction (`4`, `0.5`, `1/2`, `1e-3`), read exactly (never
  evaluated); it must lie in the range of the parameter's declared kind (`positive`,
  `probability`, `integer`, ...) and satisfy every assumption that mentions it (`beta >= 1`),
  decided exactly on the numbers;
- every settable parameter of the objective needs a value: the objective was proved for the
  values its assumptions allow, and training compiles it at one of them.

The bound objective is the proved term with each parameter replaced by its exact value.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

import sympy as sp

from ..terms import Density, Expectation, SampleExpectation, Variance, conditions

MAX_VALUE_TEXT = 60


class ParameterError(ValueError):
    """A setting the derivation's declarations refuse, worded for one line on stderr."""


_NAME = re.compile(r"^[^\W\d]\w{0,63}$")


def parse_setting(text: str) -> tuple[str, str]:
    """("beta", "4") from "beta=4"; ParameterError for anything else."""
    name, sep, value = str(text).partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not _NAME.match(name) or not value:
        raise ParameterError(f"--set wants NAME=VALUE (such as beta=4), got {str(text)[:60]!r}")
    return name, value


def parse_value(name: str, text: str) -> Fraction:
    """The exact number a decimal or fraction denotes; ParameterError when it is not one."""
    if len(text) > MAX_VALUE_TEXT:
        raise ParameterError(f"{name}={text[:20]}...: a value is at most {MAX_VALUE_TEXT} characters")
    try:
        value = Fraction(text)   # decimals, exponents and p/q; inf and nan are refused
    except (ValueError, ZeroDivisionError):
        raise ParameterError(f"{name}={text}: the value is not a number (write a decimal such as 4 or 0.5, "
                                 "or a fraction such as 1/2)") from None
    if abs(value.numerator).bit_length() > 1024 or value.denominator.bit_length() > 1024:
        raise ParameterError(f"{name}={text[:20]}: the value is too large to use")
    return value


def settable_parameters(objective, context) -> dict[str, sp.Symbol]:
    """Name -> symbol of the declared scalar parameters that the objective mentions."""
    excluded = set(context.vectors) | set(context.functions) | set(conditions.density_variables(context))
    for sym, lower, upper in context.indices.values():
        excluded.add(sym.name)
        for bound in (lower, upper):
            excluded |= {s.name for s in sp.sympify(bound).free_symbols}
    objective = sp.sympify(objective)
    excluded |= _variables_in(objective)
    mentioned = {s.name for s in objective.atoms(sp.Symbol)}
    return {name: sym for name, sym in context.symbols.items()
            if name in mentioned and name not in excluded}


def bind_parameters(objective, context, settings: dict[str, str], *, source: str = "the derivation"):
    """The objective with each settable parameter replaced by its value from ``settings``
    (name -> text), after checking the value against the declared kind and the assumptions.

    ParameterError (one line) for a name that is not a settable parameter of the objective,
    a value that is not a number or that the declarations do not allow, or a parameter left
    without a value.
    """
    params = settable_parameters(objective, context)
    known = ", ".join(sorted(params)) or "none"
    values: dict[str, Fraction] = {}
    for name, text in settings.items():
        if name not in params:
            raise ParameterError(f"{name}={text}: the objective of {source} has no scalar parameter "
                                     f"{name} (its parameters: {known})")
        values[name] = parse_value(name, text)
    for name, value in values.items():
        _check_kind(name, value, context, source)
    exact = {params[n]: sp.Rational(v.numerator, v.denominator) for n, v in values.items()}
    for a in context.assumptions:
        names = conditions.parameter_names(a.gap)
        if not names & set(values):
            continue
        shown = a.text or str(a)
        setting = ", ".join(f"{n}={settings[n]}" for n in sorted(names & set(values)))
        others = sorted(names - set(values))
        if others:
            raise ParameterError(f"{setting}: {source} assumes {shown}, which also names "
                                     f"{', '.join(others)}, which training does not set; the assumption cannot "
                                     "be checked for this value")
        if not _holds(a, exact):
            raise ParameterError(f"{setting}: {source} is proved under the assumption {shown}, "
                                     "which this value violates")
    missing = sorted(set(params) - set(values))
    if missing:
        name = missing[0]
        about = [a.text or str(a) for a in context.assumptions if name in conditions.parameter_names(a.gap)]
        kind = context.kinds.get(name, "real")
        what = f"{kind}" + (f", assumed {', '.join(about)}" if about else "")
        raise ParameterError(f"the objective of {source} depends on the parameter {name} ({what}): "
                                 f"give it a value with --set {name}=VALUE")
    return sp.sympify(objective).xreplace(exact) if exact else objective


def _variables_in(objective) -> set[str]:
    """Names a term uses as variables: of its densities (p(x, z_k): x and z) and of its expectations."""
    out: set[str] = set()
    for node in sp.preorder_traversal(objective):
        if isinstance(node, Density):
            parts = [*node.vars, *node.given]
        elif isinstance(node, (Expectation, Variance)):
            parts = [node.args[1]]
        elif isinstance(node, SampleExpectation):
            parts = [node.var]
        else:
            continue
        for part in parts:
            for atom in sp.sympify(part).atoms(sp.Symbol, sp.Indexed):
                out.add(atom.name if isinstance(atom, sp.Symbol) else atom.base.label.name)
    return out


def describe(settings: dict[str, str]) -> str:
    """"beta=4" for the configuration and the reports: sorted by name, each value as its exact
    number (0.5 is written 1/2)."""
    return ",".join(f"{n}={parse_value(n, settings[n])}" for n in sorted(settings))


def settings_from(assignments, options=()) -> dict[str, str]:
    """name -> value text from `--set NAME=VALUE` texts and from `--NAME VALUE` / `--NAME=VALUE`
    words that the command line did not know otherwise; ParameterError for a name given twice or
    words of another shape."""
    pairs = [parse_setting(text) for text in assignments or ()]
    words = list(options)
    while words:
        word = words.pop(0)
        if not word.startswith("--") or len(word) < 3:
            raise ParameterError(f"unrecognized argument {word[:60]!r}")
        name, sep, value = word[2:].partition("=")
        if not sep:
            if not words or words[0].startswith("--"):
                raise ParameterError(f"--{name[:60]} is not an option of train; as a parameter of the "
                                     "objective it needs a value (--NAME VALUE or --set NAME=VALUE)")
            value = words.pop(0)
        pairs.append(parse_setting(f"{name}={value}"))
    settings: dict[str, str] = {}
    for name, value in pairs:
        if name in settings:
            raise ParameterError(f"{name} is given a value twice ({settings[name]} and {value})")
        settings[name] = value
    return settings


def _check_kind(name: str, value: Fraction, context, source: str) -> None:
    kind = context.kinds.get(name, "real")
    lo, lo_open, hi, hi_open, integer = conditions.KIND_RANGES.get(kind, conditions.KIND_RANGES["real"])
    ok = (value > lo or (value == lo and not lo_open)) if math.isfinite(lo) else True
    ok = ok and ((value < hi or (value == hi and not hi_open)) if math.isfinite(hi) else True)
    ok = ok and (not integer or value.denominator == 1)
    if not ok:
        shown = f"{value}" if value.denominator == 1 else f"{value} = {float(value):g}"
        raise ParameterError(f"{name}={shown}: {source} declares {name} {kind}, which this value is not")


def _holds(a, exact: dict) -> bool:
    """Whether the assumption holds at the exact values: its gap is >= 0 (> 0 when strict)."""
    gap = sp.sympify(a.gap).xreplace(exact)
    try:
        negative, zero = gap.is_negative, gap.is_zero
    except Exception:
        negative = zero = None
    if negative is None or zero is None:  # SymPy cannot decide: a close float decision, never assumed true
        value = conditions.evaluate(gap, {})
        if value is None:
            return False
        negative, zero = value < 0, value == 0
    return not negative and not (a.strict and zero)


__all__ = ["ParameterError", "bind_parameters", "describe", "settings_from", "parse_setting", "parse_value", "settable_parameters"]
