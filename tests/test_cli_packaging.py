"""The command line as a user meets it: shipped derivations from any folder, help texts, pipes."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from elbo_proofs import builtin
from elbo_proofs.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_shipped_derivations_live_in_the_package():
    names = builtin.builtin_names()
    assert {"kl_gaussian", "vae_elbo", "elbo_decomposition"} <= set(names)
    assert builtin.FOLDER == ROOT / "elbo_proofs" / "derivations"
    # the repository's derivations/ is the same folder
    assert (ROOT / "derivations").resolve() == builtin.FOLDER


def test_resolve_finds_shipped_names_but_not_other_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert builtin.resolve("kl_gaussian") == builtin.FOLDER / "kl_gaussian.yaml"
    assert builtin.resolve("kl_gaussian.yaml") == builtin.FOLDER / "kl_gaussian.yaml"
    assert builtin.resolve("derivations/vae_elbo.yaml") == builtin.FOLDER / "vae_elbo.yaml"
    # a mistyped path elsewhere stays what it was, so it is reported as missing
    assert builtin.resolve("elsewhere/kl_gaussian.yaml") == Path("elsewhere/kl_gaussian.yaml")
    assert builtin.resolve("no_such_derivation") == Path("no_such_derivation")
    assert builtin.resolve("../kl_gaussian") == Path("../kl_gaussian")
    # a local file wins over the shipped one
    (tmp_path / "kl_gaussian.yaml").write_text("steps: []\n")
    assert builtin.resolve("kl_gaussian.yaml") == Path("kl_gaussian.yaml")


def test_check_list_from_another_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--list"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert any(line.startswith("kl_gaussian ") and "KL divergence" in line for line in lines)
    assert any(line.startswith("vae_elbo") for line in lines)


def test_check_by_name_from_another_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(["check", "kl_gaussian", "--format", "json", "--no-numeric"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0
    assert len(payload["derivations"]) == 1 and payload["errors"] == []


def test_check_unknown_name_is_one_line_bad_input(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["check", "kl_gausian"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "kl_gausian" in err[0] and "no such file" in err[0]


def test_check_without_paths_is_bad_input(capsys):
    assert main(["check"]) == 2
    assert "--list" in capsys.readouterr().err


def test_train_default_derivation_resolves_outside_the_repository(tmp_path, monkeypatch):
    from elbo_proofs.training.config import TrainConfig

    monkeypatch.chdir(tmp_path)
    resolved = builtin.resolve(TrainConfig().derivation)
    assert resolved.is_file() and resolved.parent == builtin.FOLDER


def _all_parsers(parser):
    yield parser.prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _all_parsers(sub)


def test_every_option_and_argument_has_help():
    missing = []
    for prog, parser in _all_parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            if not action.help:
                missing.append(f"{prog} {action.option_strings or action.dest}")
    assert missing == []


def test_help_opens_with_a_sentence_not_a_docstring_fragment(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    description = out.split("\n\n")[1]
    assert description.startswith("Verify ELBO")
    assert "`" not in description and "|" not in description


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_broken_pipe_ends_quietly(fmt):
    """`check ... | head`: the reader has gone before the output is written; no traceback, nothing on stderr."""
    read_end, write_end = os.pipe()
    os.close(read_end)                       # nobody will ever read: every write is a broken pipe
    cmd = [sys.executable, "-m", "elbo_proofs.cli", "check", "kl_gaussian", "--format", fmt, "--no-numeric"]
    try:
        proc = subprocess.run(cmd, stdout=write_end, stderr=subprocess.PIPE, cwd=ROOT, env=_env(), timeout=300)
    finally:
        os.close(write_end)
    err = proc.stderr.decode()
    assert "Traceback" not in err and "BrokenPipe" not in err
    assert err == ""
    assert proc.returncode == 1
