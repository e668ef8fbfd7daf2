"""Figures of a trained model: ELBO, importance-weighted log p(x), sample and reconstruction grids.

The importance-weighted bound is written directly from the model's densities,
independently of the compiled ELBO, so that "ELBO <= log p(x)" compares two
separate computations.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ..terms.serialize import TermDataError, term_from_data
from .config import ConfigError
from .derivation import TrainingInputError
from .images import save_grid, save_reconstructions
from .loop import ELBO, TrainConfig, binarize_fixed, estimate, report_lines, resolve_device, set_precision
from .mnist import load_mnist
from .model import VAE

LOG_2PI = math.log(2 * math.pi)


@torch.no_grad()
def log_px_iwae(model: VAE, data: torch.Tensor, k: int, seed: int = 0, budget: int = 1 << 23) -> float:
    """Mean over `data` of log (1/k) sum_i p(x, z_i) / q(z_i | x), z_i ~ q(z | x): nats per image.

    A lower bound on log p(x) for every k that tightens as k grows (Burda et al., 2016).
    """
    model.eval()
    gen = torch.Generator(device=data.device).manual_seed(seed)
    chunk = max(1, budget // (k * data.shape[1]))  # images per pass, so [k, chunk, 784] stays bounded
    total = 0.0
    for i in range(0, len(data), chunk):
        x = data[i:i + chunk]
        mu, logvar = model.encode(x)
        eps = torch.randn((k, len(x), model.latent), generator=gen, device=data.device)
        z = mu + torch.exp(0.5 * logvar) * eps
        logits = model.decode(z)
        log_px_z = -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum(-1)
        log_pz = -0.5 * (z.square() + LOG_2PI).sum(-1)
        log_qz = -0.5 * (eps.square() + LOG_2PI + logvar).sum(-1)
        log_w = log_px_z + log_pz - log_qz  # [k, chunk]
        total += (torch.logsumexp(log_w, dim=0) - math.log(k)).sum().item()
    model.train()
    return total / len(data)


def default_iw_samples(cfg: TrainConfig, device: torch.device) -> int:
    return cfg.iw_samples or (1000 if device.type == "cuda" else 200)


def final_report(model: VAE, elbo: ELBO, cfg: TrainConfig, mnist, device: torch.device,
                 test_x: torch.Tensor) -> dict:
    k = default_iw_samples(cfg, device)
    t0 = time.perf_counter()
    test_elbo = estimate(model, elbo, test_x, cfg.eval_mc_samples, seed=cfg.seed)
    # The train figure uses the fixed binarization of the training images, for a repeatable number.
    train_x = torch.from_numpy(binarize_fixed(mnist.train_images, cfg.seed + 2)).to(device)
    train_elbo = estimate(model, elbo, train_x, cfg.eval_mc_samples, seed=cfg.seed)
    log_px = log_px_iwae(model, test_x, k, seed=cfg.seed)
    return {
        "test_elbo": test_elbo,
        "train_elbo": train_elbo,
        "test_log_px": log_px,
        "gap": log_px - test_elbo,
        "elbo_below_log_px": bool(test_elbo <= log_px),
        "iw_samples": k,
        "eval_mc_samples": cfg.eval_mc_samples,
        "test_images": len(test_x),
        "eval_seconds": round(time.perf_counter() - t0, 3),
    }


@torch.no_grad()
def save_images(model: VAE, test_x: torch.Tensor, out: Path, seed: int, device: torch.device) -> list[Path]:
    model.eval()
    gen = torch.Generator(device=device).manual_seed(seed)
    z = torch.randn((64, model.latent), generator=gen, device=device)
    samples = torch.sigmoid(model.decode(z)).float().cpu().numpy()  # Bernoulli means, not binary draws
    x = test_x[:64]
    mu, _ = model.encode(x)
    recons = torch.sigmoid(model.decode(mu)).float().cpu().numpy()
    model.train()
    return [save_grid(out / "samples.png", samples, 8, 8),
            save_reconstructions(out / "reconstructions.png", x.cpu().numpy(), recons, rows=8)]


def load_checkpoint(path, device: str = "auto"):
    """(config, model, ELBO, device) from a checkpoint written by `train`."""
    path = Path(path)
    if not path.is_file():
        raise TrainingInputError(f"no checkpoint at {path}")
    dev = resolve_device(device)
    try:
        # weights_only: tensors and plain containers, never pickled code.
        ckpt = torch.load(path, map_location=dev, weights_only=True)
    except Exception as exc:
        raise TrainingInputError(f"{path} is not a readable checkpoint: {_first_line(exc)}") from None
    if not isinstance(ckpt, dict) or not {"config", "model", "objective"} <= set(ckpt):
        raise TrainingInputError(f"{path} is not a checkpoint written by train (it needs config, model and objective)")
    try:
        cfg = TrainConfig.from_dict(ckpt["config"])
        # The objective is a term tree read back node by node; nothing stored is evaluated.
        expr = term_from_data(ckpt["objective"])
    except (ConfigError, TermDataError) as exc:
        raise TrainingInputError(f"{path}: {exc}") from None
    try:
        model = VAE(784, cfg.hidden, cfg.latent).to(dev)
        model.load_state_dict(ckpt["model"])
    except Exception as exc:
        raise TrainingInputError(f"{path}: the stored weights do not fit the model: {_first_line(exc)}") from None
    try:
        elbo = ELBO(expr, cfg)
    except TrainingInputError as exc:
        raise TrainingInputError(f"{path}: {exc}") from None
    return cfg, model, elbo, dev


def _first_line(exc: Exception) -> str:
    """The first sentence of an error, on one line (torch's load errors run to paragraphs)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text.split(". ")[0][:300]


def evaluate(checkpoint, data_dir: str | None = None, device: str = "auto", iw_samples: int = 0,
             out: str | None = None, download: bool = True, log=print) -> dict:
    cfg, model, elbo, dev = load_checkpoint(checkpoint, device)
    set_precision(dev, cfg.precision)  # TF32 or not, as in training, for the same figures
    if iw_samples:
        cfg.iw_samples = iw_samples
    mnist = load_mnist(data_dir if data_dir is not None else cfg.data_dir, split=cfg.split, allow_download=download)
    test_x = torch.from_numpy(binarize_fixed(mnist.test_images, cfg.seed + 1)).to(dev)
    log(f"{checkpoint}: {mnist.describe()}; device {dev}")
    report = final_report(model, elbo, cfg, mnist, dev, test_x)
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        save_images(model, test_x, Path(out), cfg.seed, dev)
    for line in report_lines(report):
        log(line)
    return report


__all__ = ["evaluate", "final_report", "load_checkpoint", "log_px_iwae", "save_images"]
