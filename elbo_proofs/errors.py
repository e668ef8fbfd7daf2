"""The one error type every front end raises for bad input.

It carries where the problem is (file, line, step) so the command line can print
one clear line and exit 2, never a traceback.
"""
from __future__ import annotations


class InputError(Exception):
    def __init__(self, message: str, *, file=None, line=None, step=None, column=None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.step = step
        self.column = column

    def located(self, *, file=None, line=None, step=None) -> "InputError":
        """Fill in location details a caller knows and the raiser did not."""
        self.file = self.file or file
        self.line = self.line or line
        self.step = self.step or step
        return self

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(str(self.file) + (f":{self.line}" if self.line else ""))
        elif self.line:
            where.append(f"line {self.line}")
        if self.step:
            where.append(f"step {self.step}")
        prefix = ": ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message
