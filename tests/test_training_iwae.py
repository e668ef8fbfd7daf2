"""Training on the proved importance-weighted bound (derivations/iwae_bound.yaml) with K draws."""

from __future__ import annotations

import argparse
import functools
import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from elbo_proofs.parsing import parse_expression  # noqa: E402
from elbo_proofs.parsing.derivation import parse_derivation  # noqa: E402
from elbo_proofs.terms.serialize import term_from_data, term_to_data  # noqa: E402
from elbo_proofs.training import commands  # noqa: E402
from elbo_proofs.training.codegen import CodegenError  # noqa: E402
from elbo_proofs.training.config import TrainConfig  # noqa: E402
from elbo_proofs.training.derivation import load_proved_elbo  # noqa: E402
from elbo_proofs.training.evaluate import evaluate  # noqa: E402
from elbo_proofs.training.importance import DrawObjective  # noqa: E402
from elbo_proofs.training.loop import train  # noqa: E402

from test_training_mnist import write_folder  # noqa: E402

CONTEXT = parse_derivation("""\
title: t
symbols: {x: real, z: real, K: positive integer}
indices: {k: 1..K}
samples:
  z: {index: k, from: q(z|x)}
steps: ["1", "1"]
""").context
IW = "E[z_1, ..., z_K ~ q(z|x)](log(1/K*sum(k, p(x, z_k)/q(z_k|x))))"
SMALL = dict(epochs=2, batch_size=32, hidden=64, latent=8, lr=3e-3, split=300, iw_samples=50,
             progress=False, download=False, device="cpu", precision="fp32")


@functools.lru_cache(maxsize=None)
def proved():
    """The last expression of the shipped derivation, proved once for the module."""
    return load_proved_elbo("iwae_bound")


def tensors(k, b=6, d=30, latent=4, seed=0, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(b, d, generator=g) < 0.5).float()
    logits = torch.randn(k, b, d, generator=g) * scale
    mu, logvar = torch.randn(b, latent, generator=g), torch.randn(b, latent, generator=g)
    eps = torch.randn(k, b, latent, generator=g)
    return x, logits, mu, logvar, eps


def log_weights(x, logits, mu, logvar, eps):
    """log p(x|z_k) + log p(z_k) - log q(z_k|x), written by hand for the VAE."""
    z = mu + torch.exp(0.5 * logvar) * eps
    log_lik = -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum(-1)
    log_prior = -0.5 * (z.square() + math.log(2 * math.pi)).sum(-1)
    log_q = -0.5 * (eps.square() + math.log(2 * math.pi) + logvar).sum(-1)
    return log_lik + log_prior - log_q


@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("seed", [0, 1])
def test_the_proved_bound_compiles_to_the_iwae_estimate(k, seed):
    objective = DrawObjective(proved())
    args = tensors(k, seed=seed)
    expected = torch.logsumexp(log_weights(*args), dim=0) - math.log(k)
    got = objective(*args)
    assert got.shape == expected.shape == (6,)
    assert torch.allclose(got, expected, atol=1e-4, rtol=1e-5)
    if k == 1:  # one draw: the single-sample ELBO estimate log p(x, z) - log q(z|x)
        assert torch.allclose(got, log_weights(*args)[0], atol=1e-4)


def test_the_weights_never_underflow():
    # log-weights near -1e4: exp underflows in float32, logsumexp does not
    x, logits, mu, logvar, eps = tensors(5, d=200, scale=60.0)
    got = DrawObjective(proved())(x, logits, mu, logvar, eps)
    assert torch.isfinite(got).all() and (got < -1000).all()


def test_gradients_reach_the_encoder_and_the_decoder():
    x, logits, mu, logvar, eps = tensors(4)
    for t in (logits, mu, logvar):
        t.requires_grad_(True)
    DrawObjective(proved())(x, logits, mu, logvar, eps).sum().backward()
    assert all(t.grad is not None and torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0
               for t in (logits, mu, logvar))


def test_the_bound_is_stored_and_read_back_as_data():
    expr = proved()
    data = term_to_data(expr)
    assert json.loads(json.dumps(data)) == data
    assert term_from_data(data) == expr


@pytest.mark.parametrize("text, match", [
    ("E[z_1, ..., z_K ~ q(z|x)](log(1/K*sum(k, p(z_k|x)/q(z_k|x))))", "unknown role"),
    ("E[z_1, ..., z_K ~ q(z|x)](log(sum(k=1..K-1, p(x, z_k)/q(z_k|x))))", "sum must run over the draws"),
    ("log(p(x))", "not an expectation over declared draws"),
])
def test_what_cannot_be_compiled_is_named(text, match):
    with pytest.raises(CodegenError, match=match):
        DrawObjective(parse_expression(text, CONTEXT))


# ------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_folder(tmp_path_factory.mktemp("mnist"), n_test=400)


@pytest.fixture(scope="module")
def trained(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("iw")
    cfg = TrainConfig(data_dir=str(data_dir), out=str(out), derivation="iwae_bound", samples=3, **SMALL)
    return cfg, out, train(cfg, proved(), log=lambda *_: None)


def test_training_on_the_bound_improves_it_and_stays_below_log_px(trained):
    _, out, result = trained
    test = [h["test_elbo"] for h in result["history"]]
    assert test[1] > test[0] and all(np.isfinite(test))
    final = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert final["objective"] == "IW bound (K=3)" and final["eval_mc_samples"] == 3
    assert final["elbo_below_log_px"]


def test_the_checkpoint_reloads_the_bound(trained):
    _, out, result = trained
    report = evaluate(out / "checkpoint.pt", device="cpu", download=False, log=lambda *_: None)
    assert report["test_elbo"] == result["test_elbo"] and report["objective"] == "IW bound (K=3)"


def run_cli(argv) -> int:
    parser = argparse.ArgumentParser(prog="elbo-proofs")
    commands.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def cli_args(data_dir, out, *extra):
    return ["train", "--device", "cpu", "--data-dir", str(data_dir), "--out", str(out), "--epochs", "1",
            "--batch-size", "32", "--hidden", "32", "--latent", "4", "--split", "300", "--iw-samples", "20",
            "--offline", "--no-progress", "--precision", "fp32", *extra]


def test_cli_trains_the_shipped_iwae_derivation_with_k_samples(data_dir, tmp_path, capsys):
    assert run_cli(cli_args(data_dir, tmp_path, "--derivation", "iwae_bound", "--samples", "4")) == 0
    out = capsys.readouterr().out
    assert "IW bound (K=4)" in out and "log p(x) >=" in out


def test_cli_refuses_samples_for_a_closed_form_elbo(data_dir, tmp_path, capsys):
    assert run_cli(cli_args(data_dir, tmp_path, "--derivation", "vae_elbo", "--samples", "4")) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "--mc-samples" in err
    assert not (tmp_path / "checkpoint.pt").exists()
