"""A record of the rewrite rules a proof used, in the order first used."""
from __future__ import annotations


class Trace:
    def __init__(self):
        self.rules: dict[str, int] = {}

    def use(self, rule: str) -> None:
        self.rules[rule] = self.rules.get(rule, 0) + 1

    def names(self) -> list[str]:
        return list(self.rules)
