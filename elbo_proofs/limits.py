"""Time limits on phases of work, enforced from outside the process that does the work.

Code that may run long (a symbolic proof, a numeric check, reading one line of
a submission, a hint search) runs inside ``phase(key, seconds)``.  In a worker
process started by ``supervisor.Supervisor`` the phase publishes its deadline
and key in memory shared with the supervising process; past the deadline the
supervisor stops the worker (nothing is raised inside SymPy or Hypothesis,
whose state could be left half-updated) and runs the same job again in a fresh
worker, telling it which phase ran out of time.  There, ``phase`` with that key
raises ``LimitExceeded`` at once, before any work: the caller reports that one
line or step as over its limit and goes on with the rest.

Keys name the work, not its position (the text of the expressions, the
relation), so the rerun recognises the phase even when a cache lets it skip
work done before.  Outside a supervised worker (a library call, ``grade
--jobs 0``) phases are not limited.
"""
from __future__ import annotations

import hashlib
import sys
import time
from contextlib import contextmanager

KEY_BITS = 48          # keys travel as doubles in shared memory: exact below 2**53
SLOT_WIDTH = 5         # per slot: sequence number, job token, deadline (time.monotonic), key, seconds


class LimitExceeded(Exception):
    """Raised at the start of a phase that ran out of time in an earlier attempt."""

    def __init__(self, seconds: float):
        super().__init__(f"exceeded the time limit of {seconds:g} s")
        self.seconds = seconds


# worker-side state, set by supervisor._start_job in a supervised worker
_slots = None          # the shared array of doubles
_slot: int | None = None
_token = 0             # which attempt of which job the slot's values belong to
_poisoned: dict[int, float] = {}
_stack: list[tuple[float, float, float]] = []   # (deadline, key, seconds) of the open phases


def supervised() -> bool:
    return _slots is not None and _slot is not None


def key_of(parts) -> int:
    """A 48-bit key for the work ``parts`` describes (strings, terms: anything with a str)."""
    h = hashlib.blake2b(digest_size=8)
    for p in parts if isinstance(parts, (tuple, list)) else (parts,):
        h.update(_text(p).encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return int.from_bytes(h.digest(), "big") >> (64 - KEY_BITS)


def _text(p) -> str:
    if isinstance(p, str):
        return p
    sympy = sys.modules.get("sympy")
    if sympy is not None and isinstance(p, sympy.Basic):
        return sympy.srepr(p)
    return repr(p)


def _publish(deadline: float, key: float, seconds: float) -> None:
    base = _slot * SLOT_WIDTH
    s = _slots
    s[base] += 1            # odd: being written
    s[base + 1] = _token
    s[base + 2] = deadline
    s[base + 3] = key
    s[base + 4] = seconds
    s[base] += 1            # even: consistent


@contextmanager
def phase(parts, seconds: float | None):
    """Run the body within ``seconds`` (None or 0: no limit of its own).

    ``parts`` names the work (see ``key_of``); it may also be a callable
    returning them, called only in a supervised worker.
    """
    if not supervised() or not seconds:
        yield
        return
    key = key_of(parts() if callable(parts) else parts)
    if key in _poisoned:
        raise LimitExceeded(_poisoned[key])
    deadline = time.monotonic() + float(seconds)
    outer = _stack[-1] if _stack else None
    entry = (deadline, float(key), float(seconds))
    if outer is not None and outer[0] <= deadline:
        entry = outer       # the enclosing phase ends first: a kill then is its doing
    _stack.append(entry)
    _publish(*entry)
    try:
        yield
    finally:
        _stack.pop()
        _publish(*(_stack[-1] if _stack else (0.0, 0.0, 0.0)))


def read_slot(slots, slot: int) -> tuple[int, float, int, float]:
    """(token, deadline, key, seconds) of ``slot`` as one consistent reading (supervisor side)."""
    base = slot * SLOT_WIDTH
    for _ in range(1000):
        seq = slots[base]
        if int(seq) % 2:
            time.sleep(0)
            continue
        token, deadline, key, seconds = slots[base + 1], slots[base + 2], slots[base + 3], slots[base + 4]
        if slots[base] == seq:
            return int(token), deadline, int(key), seconds
    return 0, 0.0, 0, 0.0


def clear_slot(slots, slot: int) -> None:
    base = slot * SLOT_WIDTH
    for i in range(SLOT_WIDTH):
        slots[base + i] = 0.0
