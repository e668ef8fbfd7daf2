"""Training on the proved beta-VAE objective (derivations/beta_vae.yaml) at a value of its declared
parameter: train --derivation beta_vae --beta 4 (or --set beta=4), on IDX files written here."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from elbo_proofs import cli  # noqa: E402
from elbo_proofs.parsing import load_derivations  # noqa: E402
from elbo_proofs.training.codegen import compile_expression  # noqa: E402
from elbo_proofs.training.config import TrainConfig  # noqa: E402
from elbo_proofs.training.derivation import TrainingInputError, load_proved_elbo  # noqa: E402
from elbo_proofs.training.evaluate import evaluate  # noqa: E402
from elbo_proofs.training.loop import train  # noqa: E402
from elbo_proofs.training.parameters import bind_parameters  # noqa: E402

from test_training_mnist import write_folder  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(epochs=3, batch_size=32, hidden=64, latent=8, lr=3e-3, split=300, iw_samples=50,
             progress=False, download=False, device="cpu", precision="fp32")


def objective(name: str, settings: dict | None = None):
    """The last expression of a shipped derivation with values for its parameters (not proved here:
    test_check_beta_vae.py proves the file; the proof before training is tested below)."""
    chain = load_derivations(ROOT / "derivations" / f"{name}.yaml")[-1]
    return bind_parameters(chain.steps[-1].expr, chain.context, settings or {})


def reference(x, logits, mu, logvar, beta):
    """E_q[log p(x|z)] - beta KL(q || N(0, I)), written by hand: logits [L, B, D], mu and logvar [B, K]."""
    recon = -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum(-1).mean(0)
    kl = 0.5 * (mu.square() + logvar.exp() - logvar - 1).sum(-1)
    return recon - beta * kl


@pytest.mark.parametrize("beta", ["1", "4", "5/2"])
def test_the_compiled_objective_is_reconstruction_less_beta_kl(beta):
    f = compile_expression(objective("beta_vae", {"beta": beta}))
    g = torch.Generator().manual_seed(0)
    x = torch.bernoulli(torch.rand(5, 30, generator=g))
    t = dict(x=x, x_hat=torch.randn(3, 5, 30, generator=g) * 4, mu=torch.randn(5, 6, generator=g),
             sigma=torch.randn(5, 6, generator=g))
    value = f(**{n: t[n] for n in f.inputs})
    expected = reference(x, t["x_hat"], t["mu"], t["sigma"], float(Fraction(beta)))
    torch.testing.assert_close(value, expected)
    # at beta = 1 it is the compiled ELBO of derivations/vae_elbo.yaml
    if beta == "1":
        elbo = compile_expression(objective("vae_elbo"))
        torch.testing.assert_close(value, elbo(**{n: t[n] for n in elbo.inputs}))


def test_the_proved_objective_is_loaded_with_its_value():
    expr = load_proved_elbo("beta_vae", {"beta": "4"})
    assert expr == objective("beta_vae", {"beta": "4"})


def test_a_value_against_the_assumption_is_refused_before_the_proof():
    with pytest.raises(TrainingInputError, match="beta >= 1"):
        load_proved_elbo("beta_vae", {"beta": "0.5"})


# ---------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_folder(tmp_path_factory.mktemp("mnist"), n_test=400)


@pytest.fixture(scope="module")
def runs(data_dir, tmp_path_factory):
    out = {}
    for name, expr, parameters in (("elbo", objective("vae_elbo"), ""),
                                   ("beta4", objective("beta_vae", {"beta": "4"}), "beta=4")):
        folder = tmp_path_factory.mktemp(name)
        cfg = TrainConfig(data_dir=str(data_dir), out=str(folder), parameters=parameters, **SMALL)
        out[name] = (cfg, folder, train(cfg, expr, log=lambda *_: None))
    return out


def test_the_run_reports_its_objective_and_the_terms_of_the_elbo(runs):
    for name, beta in (("elbo", 1), ("beta4", 4)):
        _, folder, result = runs[name]
        final = json.loads((folder / "metrics.jsonl").read_text().splitlines()[-1])
        assert final["objective"] == ("ELBO" if beta == 1 else "objective (beta=4)")
        # the compiled objective, and E_q[log p(x|z)] and the KL written from the model's densities
        # with the same noise, agree: the objective is reconstruction less beta times the KL
        assert final["test_elbo"] == pytest.approx(final["test_reconstruction"] - beta * final["test_kl"], abs=1e-3)
        assert final["test_kl"] > 0
        # beta >= 1: the objective is at most the ELBO, which the importance-weighted estimate exceeds
        assert final["test_elbo"] <= final["test_reconstruction"] - final["test_kl"] + 1e-6
        assert final["elbo_below_log_px"]


def test_a_larger_beta_trains_a_smaller_kl(runs):
    assert runs["beta4"][2]["test_kl"] < runs["elbo"][2]["test_kl"]


def test_evaluate_reloads_the_objective_with_its_value(runs):
    cfg, folder, result = runs["beta4"]
    report = evaluate(folder / "checkpoint.pt", device="cpu", download=False, log=lambda *_: None)
    assert report["objective"] == "objective (beta=4)"
    assert report["test_elbo"] == pytest.approx(result["test_elbo"], abs=1e-4)
    assert report["test_kl"] == pytest.approx(result["test_kl"], abs=1e-4)


# -------------------------------------------------------------------- command line


def small_args(data_dir, out):
    return ["--device", "cpu", "--data-dir", str(data_dir), "--out", str(out), "--epochs", "1", "--batch-size", "32",
            "--hidden", "32", "--latent", "4", "--split", "300", "--iw-samples", "20", "--offline", "--no-progress",
            "--precision", "fp32"]


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("words, message", [
    (["--beta", "0.5"], "beta=0.5: beta_vae.yaml is proved under the assumption beta >= 1, which this value violates"),
    (["--set", "beta=0.5"], "beta >= 1"),
    (["--beta=-2"], "declares beta positive"),
    (["--set", "gamma=2"], "has no scalar parameter gamma (its parameters: beta)"),
    (["--gamma", "2", "--beta", "4"], "has no scalar parameter gamma"),
    ([], "depends on the parameter beta"),
    (["--beta", "4", "--set", "beta=5"], "given a value twice"),
    (["--set", "beta"], "NAME=VALUE"),
])
def test_cli_refuses_settings_the_derivation_does_not_allow(data_dir, tmp_path, capsys, words, message):
    assert cli.main(["train", "--derivation", "beta_vae", *small_args(data_dir, tmp_path), *words]) == 2
    assert message in one_error_line(capsys)
    assert not (tmp_path / "checkpoint.pt").exists()


def test_cli_refuses_a_parameter_of_a_derivation_without_one(data_dir, tmp_path, capsys):
    assert cli.main(["train", "--derivation", "vae_elbo", *small_args(data_dir, tmp_path), "--beta", "4"]) == 2
    assert "vae_elbo.yaml has no scalar parameter beta (its parameters: none)" in one_error_line(capsys)


def test_other_commands_refuse_unknown_options(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["check", "kl_gaussian", "--beta", "4"])
    assert info.value.code == 2
    assert "unrecognized arguments: --beta 4" in capsys.readouterr().err


def test_cli_trains_the_proved_beta_vae(data_dir, tmp_path, capsys):
    assert cli.main(["train", "--derivation", "beta_vae", "--beta", "4", *small_args(data_dir, tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "test objective (beta=4)" in out and "KL(q(z|x) || p(z))" in out
    final = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    assert final["parameters"] == "beta=4"
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert saved["config"]["parameters"] == "beta=4"
