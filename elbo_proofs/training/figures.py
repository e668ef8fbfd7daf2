"""Figures of a model: the ELBO estimate, the importance-weighted log p(x), image grids.

Used by the training loop (per-epoch and final figures) and by `evaluate` (from a
checkpoint).  The importance-weighted bound is written directly from the model's
densities, independently of the compiled ELBO, so that "ELBO <= log p(x)"
compares two separate computations.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .config import TrainConfig
from .images import save_grid, save_reconstructions
from .model import VAE

LOG_2PI = math.log(2 * math.pi)


def binarize_fixed(images: np.ndarray, seed: int) -> np.ndarray:
    """One Bernoulli sample of [N, 784] uint8 images, the same on every device."""
    rng = np.random.default_rng(seed)
    return (rng.random(images.shape, dtype=np.float32) < images / np.float32(255.0)).astype(np.float32)


@torch.no_grad()
def estimate(model: VAE, elbo: ELBO, data: torch.Tensor, mc_samples: int = 1, seed: int = 0,
             batch_size: int = 1000) -> float:
    """Mean ELBO in nats per image over `data`, with a seeded generator (repeatable)."""
    model.eval()
    gen = torch.Generator(device=data.device).manual_seed(seed)
    total = 0.0
    for i in range(0, len(data), batch_size):
        x = data[i:i + batch_size]
        eps = torch.randn((mc_samples, len(x), model.latent), generator=gen, device=data.device)
        logits, mu, logvar = model(x, eps)
        total += elbo(x, logits, mu, logvar, eps=eps).float().sum().item()
    model.train()
    return total / len(data)


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


@torch.no_grad()
def elbo_terms(model: VAE, data: torch.Tensor, mc_samples: int = 1, seed: int = 0,
               batch_size: int = 1000) -> tuple[float, float]:
    """(E_q[log p(x|z)], KL(q(z|x) || p(z))), means in nats per image over `data`.

    Written from the model's densities, independently of the compiled objective: the Bernoulli
    decoder's log-likelihood at `mc_samples` draws z = mu + sigma * eps (the noise of `estimate`
    with the same seed), and the closed-form KL of the diagonal Gaussian encoder from N(0, I).
    Their difference is the ELBO whatever objective the model was trained on.
    """
    model.eval()
    gen = torch.Generator(device=data.device).manual_seed(seed)
    reconstruction = kl = 0.0
    for i in range(0, len(data), batch_size):
        x = data[i:i + batch_size]
        eps = torch.randn((mc_samples, len(x), model.latent), generator=gen, device=data.device)
        logits, mu, logvar = model(x, eps)
        log_px_z = -F.binary_cross_entropy_with_logits(logits.float(), x.expand_as(logits).float(),
                                                       reduction="none").sum(-1)
        reconstruction += log_px_z.mean(0).sum().item()
        mu, logvar = mu.float(), logvar.float()
        kl += (0.5 * (mu.square() + logvar.exp() - logvar - 1).sum(-1)).sum().item()
    model.train()
    return reconstruction / len(data), kl / len(data)


def default_iw_samples(cfg: TrainConfig, device: torch.device) -> int:
    return cfg.iw_samples or (1000 if device.type == "cuda" else 200)


def final_report(model: VAE, elbo: ELBO, cfg: TrainConfig, mnist, device: torch.device,
                 test_x: torch.Tensor) -> dict:
    k = default_iw_samples(cfg, device)
    t0 = time.perf_counter()
    draws = elbo.draws(cfg, False)
    test_elbo = estimate(model, elbo, test_x, draws, seed=cfg.seed)
    # The train figure uses the fixed binarization of the training images, for a repeatable number.
    train_x = torch.from_numpy(binarize_fixed(mnist.train_images, cfg.seed + 2)).to(device)
    train_elbo = estimate(model, elbo, train_x, draws, seed=cfg.seed)
    log_px = log_px_iwae(model, test_x, k, seed=cfg.seed)
    reconstruction, kl = elbo_terms(model, test_x, draws, seed=cfg.seed)
    return {
        "test_elbo": test_elbo,
        "train_elbo": train_elbo,
        "test_log_px": log_px,
        "gap": log_px - test_elbo,
        "elbo_below_log_px": bool(test_elbo <= log_px),
        "iw_samples": k,
        "eval_mc_samples": draws,
        "objective": elbo.label,
        "parameters": cfg.parameters,
        "test_reconstruction": reconstruction,
        "test_kl": kl,
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
