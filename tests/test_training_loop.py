"""Short training runs on IDX files written here: the ELBO improves, outputs exist, reload agrees."""

from __future__ import annotations

import argparse
import json
import types
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from elbo_proofs.terms import Context  # noqa: E402
from elbo_proofs.training import commands  # noqa: E402
from elbo_proofs.training import derivation as derivation_mod  # noqa: E402
from elbo_proofs.training.codegen import compile_expression, vae_elbo_expression  # noqa: E402
from elbo_proofs.training.config import TrainConfig  # noqa: E402
from elbo_proofs.training.derivation import TrainingInputError, load_proved_elbo  # noqa: E402
from elbo_proofs.training.evaluate import evaluate  # noqa: E402
from elbo_proofs.training.images import read_png_gray  # noqa: E402
from elbo_proofs.training.loop import train  # noqa: E402
from elbo_proofs.training.mnist import TEST_IMAGES  # noqa: E402

from test_training_mnist import write_folder  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(epochs=3, batch_size=32, hidden=64, latent=8, lr=3e-3, split=300, iw_samples=50,
             progress=False, download=False, device="cpu", precision="fp32")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_folder(tmp_path_factory.mktemp("mnist"), n_test=400)


@pytest.fixture(scope="module")
def trained(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    cfg = TrainConfig(data_dir=str(data_dir), out=str(out), **SMALL)
    result = train(cfg, vae_elbo_expression(), log=lambda *_: None)
    return cfg, out, result


def test_elbo_improves_every_epoch(trained):
    _, _, result = trained
    test = [h["test_elbo"] for h in result["history"]]
    train_ = [h["train_elbo"] for h in result["history"]]
    assert all(b > a for a, b in zip(test, test[1:])), test
    assert train_[-1] > train_[0]
    assert all(np.isfinite(test))


def test_outputs_exist(trained):
    _, out, result = trained
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines[:-1]] == [1, 2, 3]
    final = lines[-1]
    assert final["final"] and final["test_elbo"] == result["history"][-1]["test_elbo"]
    # The importance-weighted estimate bounds log p(x) more tightly than the ELBO, as the derivation proves.
    assert final["elbo_below_log_px"] and final["test_log_px"] >= final["test_elbo"]
    samples = read_png_gray((out / "samples.png").read_bytes())
    recons = read_png_gray((out / "reconstructions.png").read_bytes())
    assert samples.shape == (8 * 30 + 2, 8 * 30 + 2) and recons.shape == (8 * 30 + 2, 16 * 30 + 2)
    assert (out / "checkpoint.pt").is_file()


def test_checkpoint_reload_gives_same_test_elbo(trained):
    cfg, out, result = trained
    report = evaluate(out / "checkpoint.pt", device="cpu", download=False, log=lambda *_: None)
    assert report["test_elbo"] == result["test_elbo"]
    assert report["test_log_px"] == result["test_log_px"]
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    assert ckpt["config"]["hidden"] == cfg.hidden and ckpt["config"]["seed"] == cfg.seed


def test_same_seed_same_run(data_dir, tmp_path, trained):
    cfg, _, result = trained
    again = train(TrainConfig(**{**cfg.__dict__, "out": str(tmp_path), "epochs": 1}), vae_elbo_expression(),
                  log=lambda *_: None)
    assert again["history"][0]["test_elbo"] == result["history"][0]["test_elbo"]


@pytest.mark.parametrize("extra", [dict(binarize="static"), dict(mc_samples=3, eval_mc_samples=2)])
def test_static_binarization_and_mc_samples(data_dir, tmp_path, extra):
    cfg = TrainConfig(data_dir=str(data_dir), out=str(tmp_path), **{**SMALL, "epochs": 2, **extra})
    history = train(cfg, vae_elbo_expression(), log=lambda *_: None)["history"]
    assert history[1]["test_elbo"] > history[0]["test_elbo"]


def test_bf16_runs(data_dir, tmp_path):
    cfg = TrainConfig(data_dir=str(data_dir), out=str(tmp_path), **{**SMALL, "epochs": 2, "precision": "bf16"})
    history = train(cfg, vae_elbo_expression(), log=lambda *_: None)["history"]
    assert np.isfinite(history[-1]["test_elbo"]) and history[1]["test_elbo"] > history[0]["test_elbo"]


# ------------------------------------------------------------------- command line


def run_cli(argv) -> int:
    parser = argparse.ArgumentParser(prog="elbo-proofs")
    commands.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def small_args(data_dir, out):
    return ["--device", "cpu", "--data-dir", str(data_dir), "--out", str(out), "--epochs", "1", "--batch-size", "32",
            "--hidden", "32", "--latent", "4", "--split", "300", "--iw-samples", "20", "--offline", "--no-progress",
            "--precision", "fp32"]


def test_cli_train_and_evaluate(data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(derivation_mod, "load_proved_elbo", lambda path, parameters=None: vae_elbo_expression())
    assert run_cli(["train", *small_args(data_dir, tmp_path)]) == 0
    assert run_cli(["evaluate", str(tmp_path / "checkpoint.pt"), "--device", "cpu", "--offline",
                    "--out", str(tmp_path / "eval")]) == 0
    out = capsys.readouterr().out
    assert "log p(x) >=" in out and (tmp_path / "eval" / "samples.png").is_file()


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def test_cli_refuses_unproved_derivation(data_dir, tmp_path, monkeypatch, capsys):
    import elbo_proofs.checking as checking
    import elbo_proofs.parsing as parsing

    fake = types.SimpleNamespace(steps=[types.SimpleNamespace(expr=vae_elbo_expression())] * 2, context=Context())
    monkeypatch.setattr(parsing, "load_derivations", lambda path: [fake], raising=False)
    monkeypatch.setattr(checking, "check_derivation", lambda d, **k: types.SimpleNamespace(
        proved=False, reasons=lambda: ["step 3: refuted: counterexample at x_1 = 0"]))
    assert run_cli(["train", "--derivation", "d.yaml", *small_args(data_dir, tmp_path)]) == 2
    err = one_error_line(capsys)
    assert "not proved" in err and "step 3: refuted" in err
    assert not (tmp_path / "checkpoint.pt").exists()


def test_load_proved_elbo_accepts_a_proved_derivation(monkeypatch):
    import elbo_proofs.checking as checking
    import elbo_proofs.parsing as parsing

    fake = types.SimpleNamespace(steps=[types.SimpleNamespace(expr=vae_elbo_expression())] * 2, context=Context())
    monkeypatch.setattr(parsing, "load_derivations", lambda path: [fake], raising=False)
    monkeypatch.setattr(checking, "check_derivation", lambda d, **k: types.SimpleNamespace(proved=True))
    assert load_proved_elbo("d.yaml") == vae_elbo_expression()


def test_cli_missing_derivation_file(data_dir, tmp_path, capsys):
    assert run_cli(["train", "--derivation", str(tmp_path / "none.yaml"), *small_args(data_dir, tmp_path)]) == 2
    assert "none.yaml" in one_error_line(capsys)


@pytest.mark.parametrize("damage", ["missing", "truncated"])
def test_cli_bad_data(tmp_path, monkeypatch, capsys, damage):
    monkeypatch.setattr(derivation_mod, "load_proved_elbo", lambda path, parameters=None: vae_elbo_expression())
    folder = write_folder(tmp_path / "m", n_test=50)
    path = folder / f"{TEST_IMAGES}.gz"
    if damage == "missing":
        path.unlink()
    else:
        path.write_bytes(path.read_bytes()[:300])
    assert run_cli(["train", *small_args(folder, tmp_path / "o")]) == 2
    err = one_error_line(capsys)
    assert ("put " in err) if damage == "missing" else ("truncated" in err)


def test_cli_bad_checkpoint(tmp_path, capsys):
    assert run_cli(["evaluate", str(tmp_path / "nothing.pt"), "--device", "cpu"]) == 2
    assert "no checkpoint" in one_error_line(capsys)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    assert run_cli(["evaluate", str(tmp_path / "junk.pt"), "--device", "cpu"]) == 2
    assert "junk.pt is not a checkpoint" in one_error_line(capsys)


def test_cli_names_that_do_not_match(data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(derivation_mod, "load_proved_elbo", lambda path, parameters=None: vae_elbo_expression())
    assert run_cli(["train", *small_args(data_dir, tmp_path), "--names", "x,p,m,s"]) == 2
    assert "--names" in one_error_line(capsys)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present")
def test_cli_cuda_without_cuda(data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(derivation_mod, "load_proved_elbo", lambda path, parameters=None: vae_elbo_expression())
    args = small_args(data_dir, tmp_path)
    args[1] = "cuda"
    assert run_cli(["train", *args]) == 2
    assert "CUDA" in one_error_line(capsys)


def test_real_vae_derivation_compiles():
    """The shipped derivation, once it proves, compiles to the reference ELBO averaged over samples."""
    path = ROOT / "derivations" / "vae_elbo.yaml"
    if not path.exists():
        pytest.skip("derivations/vae_elbo.yaml not present")
    try:
        expr = load_proved_elbo(path)
    except TrainingInputError as exc:
        pytest.skip(f"derivation not provable here: {exc}")
    f, ref = compile_expression(expr), compile_expression(vae_elbo_expression())
    g = torch.Generator().manual_seed(0)
    tensors = dict(x=torch.bernoulli(torch.rand(4, 784, generator=g)), x_hat=torch.randn(2, 4, 784, generator=g) * 3,
                   mu=torch.randn(4, 20, generator=g), sigma=torch.randn(4, 20, generator=g))
    # The derivation averages its L samples itself; the single-sample form broadcasts over them.
    torch.testing.assert_close(f(**{n: tensors[n] for n in f.inputs}), ref(**tensors).mean(0))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_gpu_training(data_dir, tmp_path):
    cfg = TrainConfig(data_dir=str(data_dir), out=str(tmp_path), **{**SMALL, "device": "cuda", "precision": "auto",
                                                                    "compile": "on"})
    result = train(cfg, vae_elbo_expression(), log=lambda *_: None)
    history = result["history"]
    assert history[-1]["test_elbo"] > history[0]["test_elbo"] and result["elbo_below_log_px"]
    report = evaluate(tmp_path / "checkpoint.pt", device="cuda", download=False, log=lambda *_: None)
    assert abs(report["test_elbo"] - result["test_elbo"]) < 1e-2


def test_cli_refuses_a_wrong_step_in_the_shipped_derivation(data_dir, tmp_path, capsys):
    """The VAE derivation with the 1/2 dropped from its KL term: check refutes it, train refuses."""
    path = ROOT / "derivations" / "vae_elbo.yaml"
    if not path.exists():
        pytest.skip("derivations/vae_elbo.yaml not present")
    try:
        load_proved_elbo(path)
    except TrainingInputError as exc:
        pytest.skip(f"derivation not provable here: {exc}")
    text = path.read_text()
    last = text.rindex("+ 1/2*sum(k, 1 + log(sigma_k^2)")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text[:last] + "+ sum(k, 1 + log(sigma_k^2)" + text[last + len("+ 1/2*sum(k, 1 + log(sigma_k^2)"):])
    assert run_cli(["train", "--derivation", str(bad), *small_args(data_dir, tmp_path / "o")]) == 2
    err = one_error_line(capsys)
    assert "not proved" in err and "step 5" in err
    assert not (tmp_path / "o" / "checkpoint.pt").exists()
