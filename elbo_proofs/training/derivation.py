"""The bridge from a derivation file to the expression that training compiles.

Training only accepts a derivation that the checker proves: the loss is the
derivation's last expression, so an unproved step would train an unproved
objective.
"""

from __future__ import annotations

from pathlib import Path

import sympy as sp

from .parameters import ParameterError, bind_parameters


class TrainingInputError(Exception):
    """Bad input for train/evaluate, worded for one line on stderr."""


def _reasons(result) -> str:
    for attr in ("reasons", "summary"):
        value = getattr(result, attr, None)
        if callable(value):
            value = value()
        if value:
            if isinstance(value, (list, tuple)):
                value = "; ".join(str(v) for v in value)
            return " ".join(str(value).split())
    return "some steps are not proved"


def load_proved_elbo(path, parameters: dict[str, str] | None = None) -> sp.Expr:
    """The last expression of the derivation at `path`, after `check` proves every step.

    A file with several chains (`parts`) must be proved in all of them; the
    ELBO is the last expression of the last chain. `parameters` (name -> value
    text) gives values to the declared scalar parameters the expression mentions
    (`parameters.py`): each is checked against its declared kind and the
    assumptions before the proof is run, and the expression returned has the
    values in place of the parameters.
    """
    try:
        from elbo_proofs import parsing
    except ImportError as exc:  # the parser is part of the package; this only guards partial installs
        raise TrainingInputError(f"cannot load derivations: {exc}") from None
    from elbo_proofs.builtin import resolve

    path = resolve(path)
    try:
        if hasattr(parsing, "load_derivations"):
            derivations = list(parsing.load_derivations(path))
        else:
            derivations = [parsing.load_derivation(path)]
    except Exception as exc:  # InputError and friends carry their own location
        raise TrainingInputError(_one_line(exc, path)) from None
    for derivation in derivations or [None]:
        if derivation is None or len(derivation.steps) < 2:
            raise TrainingInputError(f"{path}: a derivation with fewer than two steps proves nothing, "
                                     "so train refuses it")
    last = derivations[-1]
    try:
        objective = bind_parameters(last.steps[-1].expr, last.context, dict(parameters or {}),
                                    source=Path(str(path)).name)
    except ParameterError as exc:
        raise TrainingInputError(str(exc)) from None
    try:
        from elbo_proofs.checking import check_derivation
    except ImportError as exc:
        raise TrainingInputError(f"cannot check {path}: the checker is not available ({exc})") from None
    for derivation in derivations:
        try:
            result = check_derivation(derivation)
        except Exception as exc:
            raise TrainingInputError(f"{path}: checking failed: {_one_line(exc)}") from None
        if not getattr(result, "proved", False):
            raise TrainingInputError(f"{path} is not proved, so train refuses it: {_reasons(result)}")
    return objective


def _one_line(exc: Exception, path=None) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if path is None or str(path) in text else f"{path}: {text}"
