"""The plain ELBO and the importance-weighted bound as training objectives, side by side.

Trains the same VAE (same seed, architecture, epochs, data) twice with `train`: on the last
expression of derivations/vae_elbo.yaml and on that of derivations/iwae_bound.yaml with K
draws. Then evaluates both models the same way: the test ELBO (vae_elbo's compiled ELBO,
one seeded sample per image), the test importance-weighted bound with K draws, and the
importance-weighted log p(x) estimate with K' samples (`figures.log_px_iwae`). A benchmark,
not a test: one run, printed as a Markdown table and as JSON.

    python bench/iwae_vs_elbo.py --data-dir ../shared/datasets/mnist --epochs 10 --samples 5
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from elbo_proofs.training.config import TrainConfig  # noqa: E402
from elbo_proofs.training.derivation import load_proved_elbo  # noqa: E402
from elbo_proofs.training.figures import binarize_fixed, estimate, log_px_iwae  # noqa: E402
from elbo_proofs.training.loop import make_objective, train  # noqa: E402
from elbo_proofs.training.mnist import load_mnist  # noqa: E402


def run(derivation: str, samples: int, args, out: Path) -> dict:
    cfg = TrainConfig(derivation=derivation, data_dir=args.data_dir, out=str(out), device="cpu",
                      epochs=args.epochs, seed=args.seed, samples=samples, iw_samples=args.iw_samples,
                      progress=False, download=False, threads=args.threads)
    expr = load_proved_elbo(derivation)
    t0, c0 = time.perf_counter(), time.process_time()
    result = train(cfg, expr, log=lambda *_: None)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"cfg": cfg, "result": result, "wall": wall, "cpu": cpu,
            "train_seconds": sum(h["seconds"] for h in result["history"]),
            "train_cpu_seconds": sum(h["cpu_seconds"] for h in result["history"])}


def evaluate_both(runs: dict, args) -> dict:
    """The same figures for every model: test ELBO, test IW bound (K draws), IW log p(x) (K' samples)."""
    from elbo_proofs.training.evaluate import load_checkpoint

    mnist = load_mnist(args.data_dir, allow_download=False)
    test_x = torch.from_numpy(binarize_fixed(mnist.test_images, args.seed + 1))
    elbo_cfg = TrainConfig(samples=1)
    elbo = make_objective(load_proved_elbo("vae_elbo"), elbo_cfg)
    iw_cfg = TrainConfig(samples=args.samples)
    iw = make_objective(load_proved_elbo("iwae_bound"), iw_cfg)
    figures = {}
    for name, r in runs.items():
        _, model, _, _ = load_checkpoint(Path(r["cfg"].out) / "checkpoint.pt", device="cpu")
        figures[name] = {
            "test_elbo": estimate(model, elbo, test_x, 1, seed=args.seed),
            "test_iw_bound": estimate(model, iw, test_x, args.samples, seed=args.seed),
            "test_log_px": log_px_iwae(model, test_x, args.iw_samples, seed=args.seed),
            "epochs": args.epochs,
            "train_seconds": round(r["train_seconds"], 1),
            "train_cpu_seconds": round(r["train_cpu_seconds"], 1),
            "wall_seconds": round(r["wall"], 1),
        }
    return figures


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "datasets" / "mnist"))
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--samples", type=int, default=5, help="K, the draws of the importance-weighted bound")
    p.add_argument("--iw-samples", type=int, default=200, help="K', the samples of the log p(x) estimate")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        runs = {"ELBO (vae_elbo)": run("vae_elbo", 1, args, Path(tmp) / "elbo"),
                f"IW bound, K={args.samples} (iwae_bound)": run("iwae_bound", args.samples, args, Path(tmp) / "iw")}
        figures = evaluate_both(runs, args)
    print(f"| trained on | test ELBO | test IW bound (K={args.samples}) | test IW log p(x) (K'={args.iw_samples}) "
          "| epochs | training s (wall) | training s (CPU) | whole run s (wall) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, f in figures.items():
        print(f"| {name} | {f['test_elbo']:.2f} | {f['test_iw_bound']:.2f} | {f['test_log_px']:.2f} | {f['epochs']} "
              f"| {f['train_seconds']} | {f['train_cpu_seconds']} | {f['wall_seconds']} |")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
