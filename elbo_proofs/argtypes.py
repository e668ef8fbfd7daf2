"""argparse value types shared by every subcommand, so a bad number reads the same everywhere."""
from __future__ import annotations

import argparse


def _convert(text: str, convert, what: str):
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None


def positive_int(text: str) -> int:
    value = _convert(text, int, "a whole number")
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def nonnegative_int(text: str) -> int:
    value = _convert(text, int, "a whole number")
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def positive_seconds(text: str) -> float:
    value = _convert(text, float, "a number of seconds")
    if not value > 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value
