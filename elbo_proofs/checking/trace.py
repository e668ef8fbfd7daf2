"""A record of the rewrite rules a proof used: every application counted, names in the
order first used (an outer rule before the rules its application used)."""
from __future__ import annotations


class Trace:
    def __init__(self):
        self.rules: dict[str, int] = {}

    def use(self, rule: str, at: int | None = None) -> None:
        """Count one application of ``rule``; a first use is listed at position ``at`` (default: last)."""
        if rule in self.rules or at is None or at >= len(self.rules):
            self.rules[rule] = self.rules.get(rule, 0) + 1
            return
        items = list(self.rules.items())
        items.insert(at, (rule, 1))
        self.rules = dict(items)

    def names(self) -> list[str]:
        return list(self.rules)
