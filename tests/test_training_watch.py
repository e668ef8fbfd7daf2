"""Training a user can watch: every phase said, per-epoch reconstructions, the ELBO curve as a PNG."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from elbo_proofs.training.codegen import vae_elbo_expression  # noqa: E402
from elbo_proofs.training.config import TrainConfig  # noqa: E402
from elbo_proofs.training.images import read_png_gray  # noqa: E402
from elbo_proofs.training.loop import train  # noqa: E402
from elbo_proofs.training.watch import TEST_SHADE, TRAIN_SHADE, curve_image, phase, save_curve  # noqa: E402

from test_training_mnist import write_folder  # noqa: E402

SMALL = dict(epochs=2, batch_size=32, hidden=32, latent=4, lr=3e-3, split=200, iw_samples=10,
             progress=False, download=False, device="cpu", precision="fp32")


def test_curve_draws_both_series_and_rises_with_the_elbo(tmp_path):
    history = [{"epoch": e, "train_elbo": -200 + 20 * e, "test_elbo": -210 + 20 * e} for e in range(1, 6)]
    img = curve_image(history)
    assert img.shape == (400, 640) and img.dtype == np.uint8
    assert (img == TRAIN_SHADE).sum() > 200          # the gray train line and its markers
    assert (img == TEST_SHADE).sum() > 200           # the black test line, axes and labels
    # the ELBO rises: the train markers' rows go up (smaller row index) from the first epoch to the last
    rows, cols = np.nonzero(img == TRAIN_SHADE)
    plot = cols > 100
    left = rows[plot & (cols < cols[plot].min() + 6)].mean()
    right = rows[plot & (cols > cols[plot].max() - 6)].mean()
    assert right < left
    path = save_curve(tmp_path / "elbo_curve.png", history)
    assert np.array_equal(read_png_gray(path.read_bytes()), img)
    assert not (tmp_path / "elbo_curve.png.tmp").exists()


def test_curve_of_one_epoch_and_of_a_flat_run():
    one = curve_image([{"epoch": 1, "train_elbo": -150.0, "test_elbo": -150.0}])
    assert (one == TEST_SHADE).sum() > 0
    empty = curve_image([])
    assert empty.shape == (400, 640)


def test_phase_says_what_and_how_long():
    said = []
    with phase("reading MNIST", said.append):
        pass
    assert said[0] == "reading MNIST ..." and said[1].startswith("reading MNIST: done in ")


def test_phase_reports_even_when_the_work_fails():
    said = []
    with pytest.raises(ValueError):
        with phase("compiling", said.append):
            raise ValueError("boom")
    assert said == ["compiling ..."]


def test_training_reports_every_phase_and_writes_per_epoch_figures(tmp_path):
    data = write_folder(tmp_path / "mnist", n_test=300)
    out = tmp_path / "run"
    said = []
    train(TrainConfig(data_dir=str(data), out=str(out), **SMALL), vae_elbo_expression(), log=said.append)
    text = "\n".join(said)
    for what in ("compiling the ELBO to a torch loss", "reading MNIST", "final evaluation"):
        assert any(line.startswith(what) and "done in" in line for line in said), (what, said)
    assert "importance-weighted log p(x) with k=10" in text
    assert [line for line in said if line.startswith("epoch")][-1].startswith("epoch   2/2")
    for epoch in (1, 2):
        recon = read_png_gray((out / "epochs" / f"reconstructions_{epoch:03d}.png").read_bytes())
        assert recon.shape == (4 * 30 + 2, 16 * 30 + 2)
    curve = read_png_gray((out / "elbo_curve.png").read_bytes())
    assert curve.shape == (400, 640) and (curve == TRAIN_SHADE).any()
    epochs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r.get("epoch") for r in epochs[:-1]] == [1, 2]
