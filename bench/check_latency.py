"""Cold wall time of `elbo-proofs check` on kl_gaussian.yaml and on all of derivations/,
and the median time per step.  Not a test: run it by hand and copy the figures into
docs/benchmarks.md.

    python bench/check_latency.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXE = [sys.executable, "-m", "elbo_proofs"]


def cold_run(*paths, extra=()) -> tuple[float, dict]:
    """A fresh interpreter each time: imports, parsing, checking, report."""
    start = time.perf_counter()
    proc = subprocess.run([*EXE, "check", *paths, "--format", "json", *extra], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "0"})
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"check failed ({proc.returncode}): {proc.stderr.strip()}")
    return elapsed, json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cold_run("derivations/kl_gaussian.yaml")  # warm the bytecode cache once, as an installed package would be
    one = [cold_run("derivations/kl_gaussian.yaml")[0] for _ in range(args.repeat)]
    runs = [cold_run("derivations") for _ in range(args.repeat)]
    all_times = [t for t, _ in runs]
    payload = runs[0][1]
    steps = [s["seconds"] for d in payload["derivations"] for s in d["steps"]]
    n_files = len({d["path"] for d in payload["derivations"]})
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")
    print(f"cold check derivations/kl_gaussian.yaml: median {statistics.median(one):.2f} s "
          f"(min {min(one):.2f}, max {max(one):.2f}) over {args.repeat} runs")
    print(f"cold check derivations/ ({n_files} files, {len(payload['derivations'])} chains, {len(steps)} steps): "
          f"median {statistics.median(all_times):.2f} s (min {min(all_times):.2f}, max {max(all_times):.2f})")
    sym_one = [cold_run("derivations/kl_gaussian.yaml", extra=["--no-numeric"])[0] for _ in range(args.repeat)]
    sym_all = [cold_run("derivations", extra=["--no-numeric"])[0] for _ in range(args.repeat)]
    print(f"symbolic only (--no-numeric): kl_gaussian.yaml median {statistics.median(sym_one):.2f} s, "
          f"derivations/ median {statistics.median(sym_all):.2f} s")
    print(f"time per step (symbolic + numeric, 50 examples): median {statistics.median(steps) * 1000:.0f} ms, "
          f"max {max(steps) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
