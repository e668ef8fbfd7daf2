"""Train a VAE on the compiled ELBO: one config, one estimate function, one loop.

The data set lives on the device as one tensor; each epoch draws a fresh
binarization and a permutation there and slices batches from it. No
DataLoader, no per-image Python.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import sympy as sp
import torch

from ..terms.serialize import term_to_data
from .config import TrainConfig
from .codegen import LOGITS, STD_LOGVAR, VALUE, CodegenError, compile_expression
from .derivation import TrainingInputError
from .importance import DrawObjective, is_draw_objective
from .figures import binarize_fixed, default_iw_samples, estimate, final_report, save_images
from .watch import epoch_figures, phase
from .mnist import load_mnist
from .model import VAE


# ----------------------------------------------------------------- helpers


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingInputError("--device cuda was asked for, but torch sees no CUDA device (use --device cpu or auto)")
    if name not in ("cpu", "cuda"):
        raise TrainingInputError(f"unknown device {name!r}: use cpu, cuda or auto")
    return torch.device(name)


def binding(cfg: TrainConfig) -> tuple[dict[str, str], dict[str, str]]:
    """(roles for the compiler, model quantity -> name in the ELBO)."""
    parts = [p.strip() for p in cfg.names.split(",")]
    if len(parts) != 4 or not all(parts):
        raise TrainingInputError(f"--names wants four names (data, Bernoulli mean, encoder mean, encoder std), got {cfg.names!r}")
    data, probs, mean, std = parts
    roles = {data: VALUE, probs: LOGITS, mean: VALUE, std: STD_LOGVAR}
    return roles, {"data": data, "logits": probs, "mean": mean, "logvar": std}


class ELBO:
    """The compiled per-example ELBO, called with the model's tensors."""

    def __init__(self, expr: sp.Expr, cfg: TrainConfig):
        roles, self.names = binding(cfg)
        try:
            self.compiled = compile_expression(expr, roles)
        except CodegenError as exc:
            raise TrainingInputError(f"cannot compile the ELBO: {exc}") from None
        expected = set(self.names.values())
        if set(self.compiled.inputs) != expected:
            raise TrainingInputError(
                f"the ELBO uses the vectors {', '.join(self.compiled.inputs)}; training binds "
                f"{', '.join(sorted(expected))} (set --names data,mean_of_x,mu,sigma)"
            )
        self.expr = expr
        # With values for the objective's declared parameters (beta=4) it is not the ELBO itself.
        self.label = f"objective ({cfg.parameters})" if cfg.parameters else "ELBO"
        if cfg.samples != 1:
            raise TrainingInputError(
                f"--samples {cfg.samples} sets the number of draws of an objective that is an expectation over "
                "declared draws (such as derivations/iwae_bound.yaml); this derivation ends in a closed form, "
                "whose Monte Carlo samples are --mc-samples")

    def draws(self, cfg: TrainConfig, training: bool) -> int:
        """Noise samples per image: the Monte Carlo samples of the ELBO."""
        return cfg.mc_samples if training else cfg.eval_mc_samples

    def __call__(self, x, logits, mu, logvar, eps=None):
        """Per-image ELBO [B] from x [B, D], logits [L, B, D], mu and logvar [B, K]."""
        n = self.names
        value = self.compiled.fn(**{n["data"]: x, n["logits"]: logits, n["mean"]: mu, n["logvar"]: logvar})
        # An expression with its own 1/L sum over samples gives [B]; one written for a single
        # sample broadcasts over the L samples and gives [L, B]: the Monte Carlo average is then ours.
        return value.mean(0) if value.dim() == x.dim() else value


class ImportanceWeighted:
    """An objective that is an expectation over K declared draws (importance.py), with K = --samples."""

    def __init__(self, expr: sp.Expr, cfg: TrainConfig):
        try:
            self.compiled = DrawObjective(expr)
        except CodegenError as exc:
            raise TrainingInputError(f"cannot compile the objective: {exc}") from None
        count = self.compiled.count
        if count.is_Integer and int(count) != cfg.samples:
            raise TrainingInputError(f"the objective is over {count} draws; --samples is {cfg.samples}")
        self.expr = expr
        self.label = f"IW bound (K={cfg.samples})"

    def draws(self, cfg: TrainConfig, training: bool) -> int:
        """Noise samples per image: one draw of the K samples of the objective, in training and evaluation."""
        return cfg.samples

    def __call__(self, x, logits, mu, logvar, eps=None):
        """Per-image objective [B] from x [B, D], logits [K, B, D], mu and logvar [B, d], eps [K, B, d]."""
        return self.compiled(x, logits, mu, logvar, eps)


def make_objective(expr: sp.Expr, cfg: TrainConfig):
    """The compiled objective: an expectation over declared draws, or a closed-form ELBO."""
    return ImportanceWeighted(expr, cfg) if is_draw_objective(expr) else ELBO(expr, cfg)


def cpu_has_native_bf16() -> bool:
    """True where the CPU multiplies bf16 in hardware (AVX512-BF16 or AMX): there bf16 matmuls beat fp32."""
    try:
        with open("/proc/cpuinfo") as handle:
            flags = next((line for line in handle if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def set_precision(device: torch.device, precision: str) -> str:
    if precision == "auto":
        if device.type == "cuda":
            precision = "tf32"
        else:
            precision = "bf16" if cpu_has_native_bf16() else "fp32"
    if precision not in ("fp32", "tf32", "bf16"):
        raise TrainingInputError(f"unknown precision {precision!r}: use fp32, tf32 or bf16")
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    torch.backends.cudnn.allow_tf32 = precision == "tf32"
    return precision


# ------------------------------------------------------------------- loop


def make_step(model: VAE, elbo: ELBO, optimizer, cfg: TrainConfig, device: torch.device, precision: str):
    autocast = precision == "bf16"

    def loss_fn(x):
        eps = torch.randn((elbo.draws(cfg, True), x.shape[0], model.latent), device=x.device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            logits, mu, logvar = model(x, eps)
        # The ELBO itself in float32: its sums over 784 pixels need the mantissa.
        value = elbo(x, logits.float(), mu.float(), logvar.float(), eps=eps)
        return -value.mean()  # mean over samples and images: nats per image

    def step(x):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(x)
        loss.backward()
        optimizer.step()
        return loss.detach()

    if cfg.compile not in ("auto", "on", "off", "cudagraphs"):
        raise TrainingInputError(f"--compile must be auto, on, off or cudagraphs, not {cfg.compile!r}")
    use_compile = cfg.compile in ("on", "cudagraphs") or (cfg.compile == "auto" and device.type == "cuda")
    if use_compile:
        # Forward and backward become a few fused kernels; "cudagraphs" also replays them as one
        # CUDA graph per step (mode="reduce-overhead"), which removes the launch cost of a small MLP.
        mode = "reduce-overhead" if cfg.compile == "cudagraphs" and device.type == "cuda" else None
        loss_fn = torch.compile(loss_fn, fullgraph=True, mode=mode)
    return step, use_compile


def train(cfg: TrainConfig, expr: sp.Expr, log=print) -> dict:
    """Train, write metrics/checkpoint/images into cfg.out, return the final metrics."""
    device = resolve_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    precision = set_precision(device, cfg.precision)
    if cfg.binarize not in ("dynamic", "static"):
        raise TrainingInputError(f"--binarize must be dynamic or static, not {cfg.binarize!r}")
    for name in ("epochs", "batch_size", "hidden", "latent", "mc_samples", "eval_mc_samples", "samples"):
        if getattr(cfg, name) < 1:
            raise TrainingInputError(f"--{name.replace('_', '-')} must be at least 1")
    console = _console() if cfg.progress else None
    with phase("compiling the ELBO to a torch loss", log, console):
        elbo = make_objective(expr, cfg)
    with phase("reading MNIST", log, console):
        mnist = load_mnist(cfg.data_dir, split=cfg.split, allow_download=cfg.download)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    # The whole training set lives on the device as uint8 (0..255); the test set is binarized
    # once, from a seed, so that every run and every reload evaluates the same images.
    train_u8 = torch.from_numpy(mnist.train_images).to(device)
    test_x = torch.from_numpy(binarize_fixed(mnist.test_images, cfg.seed + 1)).to(device)
    train_fixed = torch.from_numpy(binarize_fixed(mnist.train_images, cfg.seed + 2)).to(device) \
        if cfg.binarize == "static" else None

    model = VAE(784, cfg.hidden, cfg.latent).to(device)
    optimizer = _adam(model, cfg.lr, device)
    step, compiled = make_step(model, elbo, optimizer, cfg, device, precision)
    n = len(train_u8)
    # Compiled graphs want one batch shape: drop the ragged last batch (a new permutation every epoch).
    n_batches = n // cfg.batch_size if compiled and n >= cfg.batch_size else math.ceil(n / cfg.batch_size)

    metrics_path = out / "metrics.jsonl"
    metrics_path.write_text("")
    log(f"{mnist.describe()}; device {device}, {precision}{', compiled' if compiled else ''}; "
        f"{sum(p.numel() for p in model.parameters())} parameters")
    history = []
    progress = _progress(cfg.progress)
    say = progress.console.print if cfg.progress else log  # above the bar while it runs
    with progress:
        task = progress.add_task("train", total=cfg.epochs * n_batches)
        for epoch in range(1, cfg.epochs + 1):
            t0, c0 = time.perf_counter(), time.process_time()
            perm = torch.randperm(n, device=device, generator=gen)
            if train_fixed is None:
                # Dynamic binarization: P(r < v) = v/255 for r uniform on 0..254. Comparing uint8
                # draws is ~5x faster on the CPU than torch.bernoulli on floats, and exact.
                r = torch.randint(0, 255, (n, 784), dtype=torch.uint8, device=device, generator=gen)
                x_epoch = (r < train_u8[perm]).float()
            else:
                x_epoch = train_fixed[perm]
            loss_sum = torch.zeros((), device=device)
            for b in range(n_batches):
                x = x_epoch[b * cfg.batch_size:(b + 1) * cfg.batch_size]
                loss_sum += step(x) * len(x)  # stays on the device: no sync per batch
                progress.advance(task)
            train_elbo = -loss_sum.item() / min(n, n_batches * cfg.batch_size)
            seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
            if not math.isfinite(train_elbo):
                raise TrainingInputError(f"training diverged at epoch {epoch} (the ELBO is {train_elbo}); lower --lr")
            test_elbo = estimate(model, elbo, test_x, elbo.draws(cfg, False), seed=cfg.seed)
            record = {"epoch": epoch, "train_elbo": train_elbo, "test_elbo": test_elbo,
                      "seconds": round(seconds, 4), "cpu_seconds": round(cpu_seconds, 4)}
            history.append(record)
            with open(metrics_path, "a") as handle:
                handle.write(json.dumps(record) + "\n")
            epoch_figures(model, test_x, out, epoch, history)
            say(f"epoch {epoch:3d}/{cfg.epochs}  train {elbo.label} {train_elbo:9.3f}  "
                f"test {elbo.label} {test_elbo:9.3f} nats/image  {seconds:6.2f} s")

    ckpt_path = out / "checkpoint.pt"
    saved = asdict(cfg)
    if cfg.data_dir:  # so that `evaluate` finds the data from any working directory
        saved["data_dir"] = str(Path(cfg.data_dir).resolve())
    torch.save({"config": saved, "model": model.state_dict(), "objective": term_to_data(expr),
                "history": history}, ckpt_path)
    with phase(f"final evaluation: test and train ELBO, importance-weighted log p(x) with "
               f"k={default_iw_samples(cfg, device)}", log, console):
        report = final_report(model, elbo, cfg, mnist, device, test_x)
    report.update({"checkpoint": str(ckpt_path)})
    with open(metrics_path, "a") as handle:
        handle.write(json.dumps({"final": True, **report}) + "\n")
    save_images(model, test_x, out, cfg.seed, device)
    for line in report_lines(report):
        log(line)
    return {"history": history, **report}


def report_lines(report: dict) -> list[str]:
    label = report.get("objective", "ELBO")
    lines = [
        f"test {label} {report['test_elbo']:.3f} nats/image ({report['eval_mc_samples']} sample(s)); "
        f"train {label} {report['train_elbo']:.3f}",
        f"log p(x) >= {report['test_log_px']:.3f} nats/image (importance weighted, k={report['iw_samples']}); "
        f"gap {report['gap']:.3f}",
    ]
    if "test_kl" in report:
        lines.append(f"test E_q[log p(x|z)] {report['test_reconstruction']:.3f}, KL(q(z|x) || p(z)) "
                     f"{report['test_kl']:.3f}: ELBO {report['test_reconstruction'] - report['test_kl']:.3f} "
                     "nats/image (from the model's densities)")
    lines.append(f"{label} <= log p(x) estimate: holds, as the derivation proves" if report["elbo_below_log_px"]
                 else f"WARNING: the {label} exceeds the log p(x) estimate; more importance samples are needed")
    return lines


def _adam(model, lr: float, device: torch.device):
    # The fused kernel does the whole update in one pass over the parameters (CPU: torch >= 2.4).
    try:
        return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(model.parameters(), lr=lr)


class _NoProgress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def add_task(self, *a, **k):
        return 0

    def advance(self, *a, **k):
        pass


def _console():
    from rich.console import Console

    return Console(highlight=False)


def _progress(enabled: bool):
    if not enabled:
        return _NoProgress()
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), transient=True, console=Console(highlight=False))
