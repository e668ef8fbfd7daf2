"""argparse value types shared by every subcommand, so a bad number reads the same everywhere; and
the parse that lets a command read options it does not declare (train: --beta 4)."""
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


def parse_command_line(parser: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    """The parsed command line. Words that no option knows are kept, as ``parameter_options``, for a
    command whose defaults say ``takes_parameter_options`` (train reads ``--beta 4`` as a value for
    a declared parameter of its objective); any other command refuses them as argparse does."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        if not getattr(args, "takes_parameter_options", False):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.parameter_options = extra
    return args
