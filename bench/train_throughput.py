"""Seconds per epoch: `elbo-proofs train` against a conventional PyTorch VAE loop.

The conventional loop is the usual tutorial shape: a Dataset that returns one
image at a time (converted to float and binarized per image), a DataLoader
with batch 128 and shuffling, a hand-written loss (binary cross-entropy with
logits plus the analytic KL), Adam 1e-3. Same model (784-400-20), same data,
same machine, same number of epochs; both report the same test ELBO estimate
(`loop.estimate`, fixed test binarization). A benchmark, not a test: one run,
printed as a table and as JSON.

    python bench/train_throughput.py --data-dir ../shared/datasets/mnist --epochs 5
    python bench/train_throughput.py --variants --device cuda   # each CUDA setting alone
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402

from elbo_proofs.training.codegen import vae_elbo_expression  # noqa: E402
from elbo_proofs.training.config import TrainConfig  # noqa: E402
from elbo_proofs.training.loop import ELBO, binarize_fixed, estimate, train  # noqa: E402
from elbo_proofs.training.mnist import load_mnist  # noqa: E402
from elbo_proofs.training.model import VAE  # noqa: E402


class MNISTImages(Dataset):
    def __init__(self, images):
        self.images = images  # uint8 [N, 784]

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        x = torch.from_numpy(self.images[i]).float() / 255.0
        return torch.bernoulli(x)  # dynamic binarization, one image at a time


def conventional(mnist, epochs: int, seed: int, batch_size: int, lr: float, elbo: ELBO, test_x) -> list[dict]:
    torch.manual_seed(seed)
    model = VAE(784, 400, 20)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loader = DataLoader(MNISTImages(mnist.train_images), batch_size=batch_size, shuffle=True)
    history = []
    for epoch in range(1, epochs + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        total, count = 0.0, 0
        for x in loader:
            mu, logvar = model.encode(x)
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
            logits = model.decode(z)
            rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
            kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            loss = (rec + kl) / len(x)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(x)
            count += len(x)
        seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
        history.append({"epoch": epoch, "train_elbo": -total / count, "seconds": seconds, "cpu_seconds": cpu_seconds,
                        "test_elbo": estimate(model, elbo, test_x, 1, seed=seed)})
        print(f"  conventional epoch {epoch}: {seconds:.3f} s, test ELBO {history[-1]['test_elbo']:.2f}", flush=True)
    return history


def summary(runs: list[list[dict]]) -> dict:
    """Per-epoch seconds over all runs; the first epoch of each run (warm-up) is reported apart."""
    steady = [h["seconds"] for run in runs for h in run[1:]] or [run[0]["seconds"] for run in runs]
    steady_cpu = [h["cpu_seconds"] for run in runs for h in run[1:]] or [run[0]["cpu_seconds"] for run in runs]
    return {"median_epoch_cpu_s": statistics.median(steady_cpu),"first_epoch_s": statistics.median(run[0]["seconds"] for run in runs),
            "median_epoch_s": statistics.median(steady), "best_epoch_s": min(steady),
            "total_s": statistics.median(sum(h["seconds"] for h in run) for run in runs),
            "final_test_elbo": statistics.mean(run[-1]["test_elbo"] for run in runs)}


CPU_VARIANTS = [
    dict(precision="fp32"), dict(precision="bf16"),
    dict(precision="bf16", batch_size=256), dict(precision="bf16", batch_size=512, lr=2e-3),
]
CUDA_VARIANTS = [
    dict(precision="fp32", compile="off"), dict(precision="tf32", compile="off"),
    dict(precision="tf32", compile="on"), dict(precision="tf32", compile="cudagraphs"),
    dict(precision="bf16", compile="cudagraphs"),
    dict(precision="tf32", compile="cudagraphs", batch_size=512, lr=2e-3),
    dict(precision="tf32", compile="cudagraphs", batch_size=2048, lr=4e-3),
]


def variants(args, expr) -> list[dict]:
    """Each speed setting of `train` alone: seconds per epoch and the ELBO it reaches."""
    rows = []
    for extra in CUDA_VARIANTS if args.device == "cuda" else CPU_VARIANTS:
        with tempfile.TemporaryDirectory() as out:
            cfg = TrainConfig(**{**dict(data_dir=args.data_dir, out=out, device=args.device, epochs=args.epochs,
                                        seed=args.seed, iw_samples=10, progress=False, threads=args.threads,
                                        download=False), **extra})
            history = train(cfg, expr, log=lambda *_: None)["history"]
        row = {"variant": extra, **summary([history])}
        rows.append(row)
        print(f"{json.dumps(extra):<75} first {row['first_epoch_s']:7.3f} s  median {row['median_epoch_s']:7.3f} s/epoch"
              f"  test ELBO {row['final_test_elbo']:8.2f}", flush=True)
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "datasets" / "mnist"))
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=128, help="for both loops (default %(default)s)")
    p.add_argument("--compile", choices=("auto", "on", "off"), default="auto", help="for the device loop")
    p.add_argument("--precision", default="auto", help="for the device loop")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--repeats", type=int, default=1, help="alternate the two loops this many times (default: one run)")
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--variants", action="store_true",
                   help="instead: time each speed setting of train alone (precision, compile, batch size) on --device")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="for --variants")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.variants:
        rows = variants(args, vae_elbo_expression())
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
        return 0

    expr = vae_elbo_expression()
    mnist = load_mnist(args.data_dir)
    print(f"{mnist.describe()}; torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)
    test_x = torch.from_numpy(binarize_fixed(mnist.test_images, args.seed + 1))

    ours, theirs = [], []
    # Repeats alternate the two loops, so that load from other processes falls on both alike.
    for repeat in range(args.repeats):
        with tempfile.TemporaryDirectory() as out:
            cfg = TrainConfig(data_dir=args.data_dir, out=out, device="cpu", epochs=args.epochs, seed=args.seed,
                              batch_size=args.batch_size, compile=args.compile, precision=args.precision,
                              iw_samples=10, progress=False, threads=args.threads, download=False)
            run = train(cfg, expr, log=lambda *_: None)["history"]
        for h in run:
            print(f"  elbo-proofs  epoch {h['epoch']}: {h['seconds']:.3f} s, test ELBO {h['test_elbo']:.2f}", flush=True)
        ours.append(run)
        theirs.append(conventional(mnist, args.epochs, args.seed, args.batch_size, 1e-3, ELBO(expr, cfg), test_x))

    a, b = summary(ours), summary(theirs)
    result = {"data": mnist.describe(), "epochs": args.epochs, "repeats": args.repeats, "batch_size": args.batch_size,
              "threads": torch.get_num_threads(), "torch": torch.__version__, "precision": args.precision,
              "elbo_proofs": a, "conventional": b,
              "speedup_median": b["median_epoch_s"] / a["median_epoch_s"],
              "speedup_total": b["total_s"] / a["total_s"],
              "speedup_cpu_time": b["median_epoch_cpu_s"] / a["median_epoch_cpu_s"]}
    print(f"\n{'loop':<14}{'first epoch s':>14}{'median epoch s':>16}{'best epoch s':>14}{'total s':>9}"
          f"{'CPU s/epoch':>13}{'final test ELBO':>17}")
    for name, s in (("elbo-proofs", a), ("conventional", b)):
        print(f"{name:<14}{s['first_epoch_s']:>14.3f}{s['median_epoch_s']:>16.3f}{s['best_epoch_s']:>14.3f}"
              f"{s['total_s']:>9.2f}{s['median_epoch_cpu_s']:>13.3f}{s['final_test_elbo']:>17.2f}")
    print(f"speed-up: {result['speedup_median']:.2f}x per epoch (median wall), {result['speedup_total']:.2f}x in total "
          f"wall time, {result['speedup_cpu_time']:.2f}x in CPU time per epoch")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
