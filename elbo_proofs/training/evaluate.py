"""`evaluate`: the figures of a trained model from its checkpoint (figures.py computes them).

ELBO, importance-weighted log p(x), sample and reconstruction grids.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from ..terms.serialize import TermDataError, term_from_data
from .config import ConfigError
from .derivation import TrainingInputError
from .figures import binarize_fixed, final_report, log_px_iwae, save_images
from .loop import TrainConfig, make_objective, report_lines, resolve_device, set_precision
from .mnist import load_mnist
from .model import VAE


def load_checkpoint(path, device: str = "auto"):
    """(config, model, ELBO, device) from a checkpoint written by `train`."""
    path = Path(path)
    if not path.is_file():
        raise TrainingInputError(f"no checkpoint at {path}")
    dev = resolve_device(device)
    try:
        # weights_only: tensors and plain containers, never pickled code.
        ckpt = torch.load(path, map_location=dev, weights_only=True)
    except pickle.UnpicklingError:
        # torch's weights-only loader refused it: not a torch file, or one that would need code to load.
        raise TrainingInputError(f"{path} is not a checkpoint: it does not load as tensors and plain data") from None
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
        elbo = make_objective(expr, cfg)
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
