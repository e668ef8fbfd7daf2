"""Hostile files: every one ends in one clear line naming the file, and exit 2, never a traceback.

Each case is an attack that once ended in a traceback, a hang or gigabytes of
memory: wrong types and keys, deep nesting, YAML alias bombs, huge literals,
special files, gzip bombs, a broken cache, an unlistable folder.
"""
from __future__ import annotations

import gzip
import os
import sqlite3
import textwrap

import pytest

from elbo_proofs.cli import main
from elbo_proofs.errors import InputError
from elbo_proofs.grading.commands import main as grade_main

HEADER = "title: t\nsymbols: {x: real, y: real}\n"
BOMB = "".join(f"{c}: &{c} [" + ", ".join([f"*{p}" if p else '"lol"'] * 9) + "]\n"
               for c, p in zip("abcdefg", [None, *"abcdef"]))


def one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "Traceback" not in err
    assert len(lines) == 1, err
    return lines[0]


def check(tmp_path, capsys, text, name="d.yaml", *extra):
    path = tmp_path / name
    path.write_text(text)
    code = main(["check", "--examples", "3", *extra, str(path)])
    out, err = capsys.readouterr()
    return code, err, path


@pytest.mark.parametrize("text, expect", [
    (HEADER + "1: x\nsteps: [x, x]\n", "unknown field 1"),
    (HEADER + "parts:\n  - title: a\n    7: y\n    steps: [x, x]\n", "field parts[1]: unknown field 7"),
    (HEADER + "densities: 5\nsteps: [x, x]\n", "field densities: expected a name or a list of names, got a number"),
    (HEADER + "steps: " + "[" * 500 + "]" * 500 + "\n", "nested more than"),
    (HEADER + "steps: 5\n", "field steps: expected a list of steps, got a number"),
    (HEADER + "steps: [x, [x]]\n", "field steps[2]: expected an expression or a mapping"),
    (HEADER + "steps:\n  - x\n  - {expr: x, rel: [1]}\n", "field steps[2].rel: expected text, got a list"),
    (HEADER + "steps:\n  - x\n  - {expr: x, by: {a: 1}}\n", "field steps[2].by: expected text, got a mapping"),
    ("title: t\nsymbols: {x: {a: 1}}\nsteps: [x, x]\n", "field symbols.x: expected text, got a mapping"),
    ("title: t\nsymbols: {3: real}\nsteps: [x, x]\n", "a name must be text"),
    ("title: t\nsymbols: [x]\nsteps: [x, x]\n", "field symbols: expected a mapping"),
    (HEADER + "samples: {z: 5}\nsteps: [x, x]\n", "field samples.z: expected a mapping with index: and from:"),
    (HEADER + "functions: {f: {a: 1}}\nsteps: [x, x]\n", "field functions.f"),
    (HEADER + "steps: [x, x]\nparts: [{steps: [x, x]}]\n", "needs exactly one of 'steps' or 'parts'"),
    (HEADER + "title2: t\nsteps: [x, x]\n", "unknown field 'title2'"),
    (HEADER + "x: 1\nx: 2\nsteps: [x, x]\n", "appears twice"),
    ("title: &t a\nsymbols: {x: real}\nsteps: [x, *t]\n", "aliases"),
    (BOMB + HEADER.replace("title: t", "title: *g") + "steps: [x, x]\n", "aliases"),
    (BOMB + HEADER + "steps:\n  - x\n  - {expr: x, by: *g}\n", "aliases"),
    (HEADER + "steps:\n  - expr: 1e999999999\n  - expr: x\n", "exponent beyond"),
    (HEADER + "steps:\n  - x\n  - 123456789012345678901234567890123456789012345678901234567890123\n", "digits"),
    (HEADER + "steps:\n  - (2*x)^(10^60)\n  - x\n", "exponent 1000000000...(61 digits) is too large"),
    (HEADER + "steps: [x]\n", "at least two steps"),
    (HEADER + "steps: []\n", "at least two steps"),
    (HEADER + "n: " + "9" * 5000 + "\nsteps: [x, x]\n", "malformed YAML value"),
    ("- a\n- b\n", "expected a mapping with title: and steps:"),
    ("", "expected a mapping with title: and steps:"),
])
def test_malformed_derivation_is_one_line_and_exit_2(tmp_path, capsys, text, expect):
    code, err, path = check(tmp_path, capsys, text)
    line = one_line(err)
    assert code == 2
    assert line.startswith(f"error: {path}")
    assert expect in line


def test_error_names_the_line_of_the_bad_field(tmp_path, capsys):
    code, err, path = check(tmp_path, capsys, HEADER + "steps:\n  - x\n  - expr: x\n    rel: [1]\n")
    assert code == 2 and f"{path}:6:" in one_line(err)  # the line of rel:


def test_fifo_is_refused_without_waiting(tmp_path, capsys):
    fifo = tmp_path / "f.yaml"
    os.mkfifo(fifo)
    code = main(["check", str(fifo)])
    line = one_line(capsys.readouterr().err)
    assert code == 2 and "FIFO" in line and str(fifo) in line


def test_fifo_in_a_folder_is_named(tmp_path, capsys):
    os.mkfifo(tmp_path / "f.yaml")
    code = main(["check", str(tmp_path)])
    assert code == 2 and "FIFO" in one_line(capsys.readouterr().err)


def test_symlink_to_dev_zero_is_refused(tmp_path, capsys):
    link = tmp_path / "z.yaml"
    link.symlink_to("/dev/zero")
    code = main(["check", str(link)])
    line = one_line(capsys.readouterr().err)
    assert code == 2 and "character device" in line


def test_oversized_and_binary_files(tmp_path, capsys):
    big = tmp_path / "big.yaml"
    big.write_text("title: t\n" + "#" * 300_000 + "\n")
    assert main(["check", str(big)]) == 2
    assert "limit is" in one_line(capsys.readouterr().err)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"title: \xff\xfe\n")
    assert main(["check", str(binary)]) == 2
    assert "not UTF-8" in one_line(capsys.readouterr().err)


def test_one_step_is_not_a_proof_for_train(tmp_path):
    from elbo_proofs.training.derivation import TrainingInputError, load_proved_elbo

    path = tmp_path / "one.yaml"
    path.write_text(HEADER + "steps: [x]\n")
    with pytest.raises(TrainingInputError, match="at least two steps"):
        load_proved_elbo(path)


def test_no_steps_result_is_not_proved():
    from elbo_proofs.checking.derivation import DerivationResult

    assert DerivationResult("t", None).proved is False


# -- assignment files ----------------------------------------------------------

SUBMISSION = "$$ x + x = 2x $$\n"


@pytest.mark.parametrize("text, expect", [
    ("points: ten\n", "field points: expected a number, got text"),
    ("points: -1\n", "field points: must be positive"),
    ("points: .inf\n", "out of range"),
    ("points: true\n", "expected a number, got true"),
    ("1: x\n", "unknown field 1"),
    ("declarations: {symbols: {x: [1]}}\n", "field declarations.symbols.x: expected text, got a list"),
    ("declarations: {7: y}\n", "unknown field 7"),
    ("declarations: 5\n", "field declarations: expected a mapping of declarations"),
    ("densities: 5\n", "field densities"),
    ("goal: [x]\n", "field goal: expected text"),
    (BOMB + "title: *g\n", "aliases"),
    ("goal: (2*x)^(10^60) = x\nsymbols: {x: real}\n", "too large"),
    ("symbols: {x: real}\ndeclarations: {symbols: {y: real}}\n", "given twice"),
    ("[1, 2]\n", "expected a mapping"),
    ("a: " + "[" * 300 + "]" * 300 + "\n", "nested more than"),
])
def test_malformed_assignment_is_one_line_and_exit_2(tmp_path, capsys, text, expect):
    sub = tmp_path / "s.md"
    sub.write_text(SUBMISSION)
    a = tmp_path / "a.yaml"
    a.write_text(text)
    code = grade_main([str(sub), "--assignment", str(a), "--jobs", "0"])
    line = one_line(capsys.readouterr().err)
    assert code == 2
    assert line.startswith(f"error: {a}") and expect in line


def test_assignment_special_files(tmp_path, capsys):
    sub = tmp_path / "s.md"
    sub.write_text(SUBMISSION)
    os.mkfifo(tmp_path / "a.yaml")
    assert grade_main([str(sub), "--assignment", str(tmp_path / "a.yaml"), "--jobs", "0"]) == 2
    assert "FIFO" in one_line(capsys.readouterr().err)
    (tmp_path / "z.yaml").symlink_to("/dev/zero")
    assert grade_main([str(sub), "--assignment", str(tmp_path / "z.yaml"), "--jobs", "0"]) == 2
    assert "character device" in one_line(capsys.readouterr().err)


# -- batches: special files, unlistable folders, the cache -----------------------

def test_fifo_submission_in_a_folder_is_reported(tmp_path, capsys):
    (tmp_path / "good.md").write_text(SUBMISSION)
    os.mkfifo(tmp_path / "pipe.md")
    code = grade_main([str(tmp_path), "--jobs", "0", "--format", "json", "--no-numeric"])
    err = capsys.readouterr().err
    assert code == 2
    assert "pipe.md" in err and "FIFO" in err and "Traceback" not in err


def test_unlistable_subfolder_is_reported_not_skipped(tmp_path, capsys, monkeypatch):
    (tmp_path / "good.md").write_text(SUBMISSION)
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "hidden.md").write_text(SUBMISSION)
    real_scandir = os.scandir

    def scandir(path="."):
        if os.fspath(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(locked))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    code = grade_main([str(tmp_path), "--jobs", "0", "--format", "json", "--no-numeric"])
    out, err = capsys.readouterr()
    assert code == 2
    assert f"error: {locked}: cannot list folder: Permission denied" in err
    assert "good.md" in out  # the rest is graded


def test_corrupt_cache_is_rebuilt_and_said_so(tmp_path, capsys):
    sub = tmp_path / "s.md"
    sub.write_text(SUBMISSION)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "steps.sqlite").write_bytes(b"this is not a database" * 100)
    code = grade_main([str(sub), "--jobs", "0", "--cache-dir", str(cache), "--format", "json", "--no-numeric"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "rebuilt" in err and "Traceback" not in err
    with sqlite3.connect(cache / "steps.sqlite") as conn:
        assert conn.execute("SELECT count(*) FROM steps").fetchone()[0] >= 1


def test_cache_with_another_table_is_rebuilt(tmp_path, capsys):
    sub = tmp_path / "s.md"
    sub.write_text(SUBMISSION)
    cache = tmp_path / "cache"
    cache.mkdir()
    with sqlite3.connect(cache / "steps.sqlite") as conn:
        conn.execute("CREATE TABLE steps (a INTEGER)")
    assert grade_main([str(sub), "--jobs", "0", "--cache-dir", str(cache), "--no-numeric", "--format", "json"]) == 0
    assert "rebuilt" in capsys.readouterr().err


@pytest.mark.parametrize("make, expect", [
    (lambda d: d.write_text("a file"), "not a folder"),
    (lambda d: (d.mkdir(), os.mkfifo(d / "steps.sqlite")), "not a regular file"),
])
def test_unusable_cache_dir_is_named(tmp_path, capsys, make, expect):
    sub = tmp_path / "s.md"
    sub.write_text(SUBMISSION)
    cache = tmp_path / "cache"
    make(cache)
    code = grade_main([str(sub), "--jobs", "0", "--cache-dir", str(cache)])
    line = one_line(capsys.readouterr().err)
    assert code == 2 and str(cache) in line and expect in line


def test_damaged_cache_entry_is_a_miss(tmp_path):
    from elbo_proofs.grading.cache import StepCache

    cache = StepCache(tmp_path / "steps.sqlite")
    with sqlite3.connect(tmp_path / "steps.sqlite") as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS steps (key TEXT PRIMARY KEY, verdict TEXT NOT NULL, created REAL)")
        conn.execute("INSERT INTO steps VALUES ('k', '{\"status\": \"bogus\"}', 0)")
    assert cache.get("k") is None and cache.misses == 1


# -- the MNIST folder --------------------------------------------------------------

def test_gzip_bomb_in_the_data_folder_is_bounded(tmp_path):
    from elbo_proofs.training.mnist import MNISTError, _read_bytes

    bomb = tmp_path / "train-images-idx3-ubyte.gz"
    bomb.write_bytes(gzip.compress(b"\0" * 2_000_000))
    assert len(bomb.read_bytes()) < 10_000
    with pytest.raises(MNISTError, match="inflates to more than 100000 bytes"):
        _read_bytes(bomb, limit=100_000)


def test_special_file_in_the_data_folder(tmp_path):
    from elbo_proofs.training.mnist import MNISTError, read_idx

    os.mkfifo(tmp_path / "x.gz")
    with pytest.raises(MNISTError, match="FIFO"):
        read_idx(tmp_path / "x.gz")


def test_fifo_derivation_for_train_is_refused(tmp_path):
    from elbo_proofs.training.derivation import TrainingInputError, load_proved_elbo

    os.mkfifo(tmp_path / "f.yaml")
    with pytest.raises(TrainingInputError, match="FIFO"):
        load_proved_elbo(tmp_path / "f.yaml")


def test_unwritable_cache_dir_is_named(tmp_path, capsys, monkeypatch):
    sub = tmp_path / "s.md"
    sub.write_text(SUBMISSION)
    cache = tmp_path / "cache"
    cache.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if str(p) == str(cache) else real_access(p, mode))
    assert grade_main([str(sub), "--jobs", "0", "--cache-dir", str(cache)]) == 2
    line = one_line(capsys.readouterr().err)
    assert str(cache) in line and "cannot be read and written" in line
