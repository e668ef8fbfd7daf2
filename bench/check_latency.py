"""Cold wall time of `elbo-proofs check` on kl_gaussian.yaml against a bare `import sympy`,
measured side by side in the same run, and the cold time of all of derivations/.
Not a test: run it by hand and copy the figures into docs/benchmarks.md.

    python bench/check_latency.py [--repeat 5] [--all]

Each repetition starts fresh interpreters in turn: `python -c "import sympy"`, then
`python -m elbo_proofs check derivations/kl_gaussian.yaml`, so that both see the same
load on the machine.  The ratio is the median check time over the median import time
(target: at most 3); the per-pair ratios are printed too.
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
# bytecode is written and reused, as for an installed package (any value of this variable disables writing it)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(cmd) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=ENV)
    return time.perf_counter() - start, proc


def bare_sympy() -> float:
    elapsed, proc = timed([sys.executable, "-c", "import sympy"])
    if proc.returncode != 0:
        raise SystemExit(f"import sympy failed: {proc.stderr.strip()}")
    return elapsed


def cold_check(*paths, extra=()) -> tuple[float, dict]:
    """A fresh interpreter: imports, reading, checking, report."""
    elapsed, proc = timed([*EXE, "check", *paths, "--format", "json", *extra])
    if proc.returncode != 0:
        raise SystemExit(f"check failed ({proc.returncode}): {proc.stderr.strip()}")
    return elapsed, json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--all", action="store_true", help="also time derivations/ (all files), with and without numeric")
    args = parser.parse_args()
    # warm the bytecode caches once, as an installed package would be
    bare_sympy()
    cold_check("derivations/kl_gaussian.yaml")
    pairs = []
    for _ in range(args.repeat):
        s = bare_sympy()
        c, payload = cold_check("derivations/kl_gaussian.yaml")
        pairs.append((s, c))
    sym = statistics.median(s for s, _ in pairs)
    chk = statistics.median(c for _, c in pairs)
    steps = [s["seconds"] for d in payload["derivations"] for s in d["steps"]]
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"bare `python -c 'import sympy'`:             median {sym:.2f} s  "
          f"(runs: {', '.join(f'{s:.2f}' for s, _ in pairs)})")
    print(f"cold `check derivations/kl_gaussian.yaml`:   median {chk:.2f} s  "
          f"(runs: {', '.join(f'{c:.2f}' for _, c in pairs)})")
    print(f"ratio check / import sympy: {chk / sym:.2f}  "
          f"(per pair: {', '.join(f'{c / s:.2f}' for s, c in pairs)}; target <= 3)")
    print(f"kl_gaussian: {len(steps)} steps, time per step median {statistics.median(steps) * 1000:.0f} ms "
          f"(each with its share of the chain's numeric run)")
    if args.all:
        runs = [cold_check("derivations")[0] for _ in range(args.repeat)]
        sym_all = [cold_check("derivations", extra=["--no-numeric"])[0] for _ in range(args.repeat)]
        print(f"cold `check derivations/`: median {statistics.median(runs):.2f} s; "
              f"symbolic only (--no-numeric): median {statistics.median(sym_all):.2f} s")


if __name__ == "__main__":
    main()
