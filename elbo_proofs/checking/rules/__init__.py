"""Rewrite rules, one family of rules per module, registered in `engine` when imported.

Every module of this package is imported here, so a new family of rules is one new
module (see docs/checker.md).  `checking.canonical.Canonicalizer` is the engine that
applies them.
"""
import importlib
import pkgutil

from .engine import POSITIONS, Rule, register, rule, rules, unregister

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    importlib.import_module(f"{__name__}.{_info.name}")

__all__ = ["POSITIONS", "Rule", "register", "rule", "rules", "unregister"]
