"""The rule registry: every rewrite rule is a named value, applied by one engine.

A rule says *where* it applies (its position), *what* it matches (term classes and
the side conditions its ``apply`` checks before it rewrites) and *what* it produces
(the value ``apply`` returns; None where a side condition fails).  Rules are kept
with their family of rules, one module per family under ``checking/rules/``, and
register themselves with the `rule` decorator when their module is imported
(``checking/rules/__init__.py`` imports every module of the package).

Positions:

``term``        any term the engine canonicalizes (``apply(node, engine)``)
``log``         the argument u of a log(u) (``apply(u, engine)`` returns the canonical log u)
``dist``        the density an E or a KL is taken under (``apply(d, engine)``)
``integrand``   the whole integrand f of E_{var ~ dist}[f] before it is expanded
                (``apply(f, engine, dist, var, raw_dist)`` returns the value of the E)
``expectation`` one canonical summand of an integrand (``apply(term, engine, dist, var)``)
``certificate`` a node of an inequality's gap or of its two sides (``apply(node, ctx)``
                returns (name, term) pairs, each term known to be non-negative, for
                the certifier of `inequality.py` to use; it rewrites nothing)

The engine (`checking.canonical.Canonicalizer`) tries the rules of a position in
order of ``priority`` (then registration) and applies the first whose ``apply``
returns a term; it records the application under the rule's name (or its
``label``) so that ``check --rules`` lists every rule a proof used.  Rules see
densities, families and declarations (the Context), never how a name is spelled.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

POSITIONS = ("term", "log", "dist", "integrand", "expectation", "certificate")


@dataclass(frozen=True)
class Rule:
    name: str                       # what the report shows
    position: str                   # one of POSITIONS
    kinds: tuple                    # term classes it matches; () matches any term
    apply: Callable                 # (node, engine, *site) -> rewritten term, or None
    priority: int = 50              # lower first
    report: bool = True             # False for pure traversal (no mathematical content)
    label: Callable | None = None   # (node, engine, *site) -> name shown, when it depends on the node
    family: str = ""                # the module (family of rules) it belongs to
    doc: str = ""

    def shown_as(self, node, engine, *site) -> str:
        return self.label(node, engine, *site) if self.label else self.name


_RULES: dict[str, list[Rule]] = {p: [] for p in POSITIONS}
_CACHE: dict = {}


def register(r: Rule) -> Rule:
    if r.position not in _RULES:
        raise ValueError(f"rule {r.name!r}: unknown position {r.position!r} (known: {', '.join(POSITIONS)})")
    existing = _RULES[r.position]
    if any(o.name == r.name and o.family == r.family for o in existing):
        existing[:] = [o for o in existing if not (o.name == r.name and o.family == r.family)]
    existing.append(r)
    existing.sort(key=lambda o: o.priority)  # stable: registration order within a priority
    _CACHE.clear()
    return r


def unregister(name: str, family: str | None = None) -> None:
    """Remove the rules called ``name`` (of one family of rules)."""
    for position in POSITIONS:
        _RULES[position][:] = [r for r in _RULES[position]
                               if not (r.name == name and (family is None or r.family == family))]
    _CACHE.clear()


def rule(name: str, position: str, *kinds, priority: int = 50, report: bool = True, label=None):
    """Decorator: register ``fn(node, engine, *site)`` as the rule ``name``."""

    def deco(fn):
        register(Rule(name, position, tuple(kinds), fn, priority, report, label,
                      fn.__module__.rsplit(".", 1)[-1], " ".join((fn.__doc__ or "").split())))
        return fn

    return deco


def rules(position: str | None = None) -> list[Rule]:
    """The registered rules (of one position), in the order the engine tries them."""
    if position is not None:
        return list(_RULES[position])
    return [r for p in POSITIONS for r in _RULES[p]]


def candidates(position: str, node) -> list[Rule]:
    """The rules of ``position`` whose classes match ``node``, in order."""
    key = (position, type(node))
    found = _CACHE.get(key)
    if found is None:
        found = [r for r in _RULES[position] if not r.kinds or isinstance(node, r.kinds)]
        _CACHE[key] = found
    return found
