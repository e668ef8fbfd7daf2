"""The key of tests/data/corpus is verified by computation, independently of the reader.

spec.py states the mathematics of every corpus derivation as trusted Python on concrete
models (models.py); key.json says which lines hold a planted error.  Here every chain is
evaluated on several randomly drawn models: each step outside bad_lines must hold on every
model, each step on a bad line must fail on every model by a clear margin, and every file
of the corpus must have a spec and a key entry.
"""
from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

CORPUS = Path(__file__).resolve().parent / "data" / "corpus"
KEY = json.loads((CORPUS / "key.json").read_text())
SEEDS = (11, 23, 37)


def _load(name):
    sys.path.insert(0, str(CORPUS))
    try:
        spec = importlib.util.spec_from_file_location(f"corpus_{name}", CORPUS / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(CORPUS))


SPEC = _load("spec")
models = sys.modules.get("models") or _load("models")
FILES = sorted(p.name for p in CORPUS.glob("*.md"))

# how each relation may be written on its line
SIGNS = {
    "=": re.compile(r"=|\\approx|\\triangleq|\\equiv"),
    "<=": re.compile(r"\\leq?(?![a-zA-Z])|<=|\\leqslant"),
    ">=": re.compile(r"\\geq?(?![a-zA-Z])|>=|\\geqslant"),
    "~=": re.compile(r"\\approx|\\simeq|="),
}


def scalar(v):
    if isinstance(v, models.Estimate):
        return v
    a = np.asarray(v, dtype=float)
    assert a.size == 1, f"a value with {a.size} entries where one number belongs"
    return float(a.reshape(()))


def violation(rel, a, b):
    """(by how much `a rel b` fails, the tolerance of the comparison)."""
    se = 0.0
    if isinstance(a, models.Estimate):
        se, a = se + a.se, a.mean
    if isinstance(b, models.Estimate):
        se, b = se + b.se, b.mean
    tol = 1e-6 * (1 + abs(a) + abs(b)) + 6 * se
    if rel in ("=", "~="):
        return abs(a - b), tol
    if rel == "<=":
        return a - b, tol
    if rel == ">=":
        return b - a, tol
    raise AssertionError(f"unknown relation {rel!r}")


def test_every_file_has_a_spec_and_a_key():
    assert FILES, "the corpus is empty"
    assert set(FILES) == set(SPEC.SPECS), set(FILES) ^ set(SPEC.SPECS)
    assert set(FILES) == set(KEY), set(FILES) ^ set(KEY)


def test_size_and_share_of_planted_errors():
    assert len(FILES) >= 60
    with_error = [f for f in FILES if KEY[f]["bad_lines"]]
    assert len(with_error) * 3 >= len(FILES)
    # exactly one planted error per erroneous file
    assert all(len(KEY[f]["bad_lines"]) == 1 for f in with_error)


@pytest.mark.parametrize("name", FILES)
def test_spec_matches_the_text(name):
    lines = (CORPUS / name).read_text().splitlines()
    spec = SPEC.SPECS[name]
    for chain in spec["chains"]:
        assert chain[0][1] is None and all(rel is not None for _, rel, _ in chain[1:]), name
        last = 0
        for line, rel, _ in chain:
            assert 1 <= line <= len(lines), (name, line)
            assert line >= last, (name, line, "chains run down the file")
            last = line
            if rel is not None:
                assert SIGNS[rel].search(lines[line - 1]), (name, line, rel, lines[line - 1])
    for ln in KEY[name]["bad_lines"]:
        assert any(line == ln for ch in spec["chains"] for line, rel, _ in ch if rel), (name, ln)
    for ln in KEY[name].get("notes", {}):
        assert 1 <= int(ln) <= len(lines), (name, ln)


@pytest.mark.parametrize("name", FILES)
def test_key_is_verified_numerically(name):
    spec = SPEC.SPECS[name]
    bad = set(KEY[name]["bad_lines"])
    for seed in SEEDS:
        model = spec["model"](seed)
        for chain in spec["chains"]:
            values = [scalar(fn(model)) for _, _, fn in chain]
            for k in range(1, len(chain)):
                line, rel, _ = chain[k]
                amount, tol = violation(rel, values[k - 1], values[k])
                if line in bad:
                    scale = 1e-3 * (1 + abs(getattr(values[k], "mean", values[k])))
                    assert amount > max(3 * tol, scale), \
                        f"{name}:{line} is listed as wrong but holds on seed {seed}: {values[k - 1]} {rel} {values[k]}"
                else:
                    assert amount <= tol, \
                        f"{name}:{line} fails on seed {seed}: {values[k - 1]} {rel} {values[k]} (off by {amount:.3g})"
