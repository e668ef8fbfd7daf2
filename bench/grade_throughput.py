"""Throughput of `elbo-proofs grade` on a class-sized batch.

By default the batch is diverse: every derivation of the corpus
(tests/data/corpus), of ../shared/real and of ../shared/submissions, filled up
to N (default 100) with generated submissions.  With --generated only, it
generates N submissions of about 15 steps each -- the ELBO
decomposition, its reconstruction-minus-KL form, the closed-form Gaussian KL
and the ELBO bound -- in a few notations (q/p, q_phi/p_theta, Q/P, other latent
names), with whitespace and bracket variations, and a planted error in some
(a flipped sign, a swapped KL, a dropped 1/2).  Then times

    elbo-proofs grade DIR --format json --jobs J [--no-cache]

for each configuration and prints a table (and, with --json FILE, the figures).

    python bench/grade_throughput.py                     # 100 submissions, jobs 1 and 2, cache on/off
    python bench/grade_throughput.py --count 20 --configs 2:cache
    python bench/grade_throughput.py --configs 1:nocache,2:nocache   # the speed-up of a second worker

The last lines give the figures: wall time of the uncached run with the most
workers, and the speed-up of 2 workers over 1 (both uncached, same batch).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (variational density, model density letter, latent, data)
NOTATIONS = [
    (r"q(z|x)", "p", "z", "x"),
    (r"q_\phi(z|x)", r"p_\theta", "z", "x"),
    (r"Q(z|X)", "P", "z", "X"),
    (r"q(h|v)", "p", "h", "v"),
]
E_STYLES = [
    lambda q, z: r"\mathbb{E}_{" + q + "}",
    lambda q, z: r"\mathbb{E}_{" + z + r" \sim " + q + "}",
    lambda q, z: "E_{" + q + "}",
]
KL_STYLES = [r"D_{{KL}}({a} \| {b})", r"D_{{\text{{KL}}}}({a} \parallel {b})", r"KL({a} || {b})"]


def _elbo_chain(q, p, z, x, E, KL, error):
    pz = f"{p}({z})"
    pxz = f"{p}({x}|{z})"
    pzx = f"{p}({z}|{x})"
    joint = f"{p}({x}, {z})"
    logp = f"\\log {p}({x})"
    lines = [
        f"{logp} &= {E}[{logp}]",
        f"&= {E}[\\log {joint} - \\log {pzx}]",
        f"&= {E}[\\log {pxz} + \\log {pz} - \\log {pzx}]",
        f"&= {E}[\\log {pxz} + \\log {pz} - \\log {q} + \\log {q} - \\log {pzx}]",
        f"&= {E}[\\log {pxz} + \\log {pz} - \\log {q}] + {E}[\\log {q} - \\log {pzx}]",
        f"&= {E}[\\log {pxz} + \\log {pz} - \\log {q}] + {KL.format(a=q, b=pzx)}",
    ]
    if error == "sign":
        lines[2] = f"&= {E}[\\log {pxz} - \\log {pz} - \\log {pzx}]"
    return lines


def _second_form(q, p, z, x, E, KL, error):
    pz = f"{p}({z})"
    pxz = f"{p}({x}|{z})"
    lines = [
        f"{E}[\\log {pxz} + \\log {pz} - \\log {q}] &= {E}[\\log {pxz}] + {E}[\\log {pz} - \\log {q}]",
        f"&= {E}[\\log {pxz}] - {E}[\\log {q} - \\log {pz}]",
        f"&= {E}[\\log {pxz}] - {KL.format(a=q, b=pz)}",
    ]
    if error == "kl":
        lines[2] = f"&= {E}[\\log {pxz}] - {KL.format(a=pz, b=q)}"
    return lines


def _gaussian_kl(error):
    lines = [
        r"D_{KL}(\mathcal{N}(\mu, \sigma^2) \| \mathcal{N}(0, 1)) &= -\frac{1}{2}\log \sigma^2 - \frac{1}{2} + \frac{1}{2}(\sigma^2 + \mu^2)",
        r"&= \frac{1}{2}(\sigma^2 + \mu^2 - \log \sigma^2 - 1)",
        r"&= \frac{1}{2}\sigma^2 + \frac{1}{2}\mu^2 - \frac{1}{2}\log \sigma^2 - \frac{1}{2}",
    ]
    if error == "half":
        lines[1] = r"&= \frac{1}{2}(\sigma^2 + \mu^2 - 1) - \log \sigma^2"
    return lines


def submission(i: int, rng: random.Random) -> tuple[str, str | None]:
    q, p, z, x = NOTATIONS[i % len(NOTATIONS)]
    E = rng.choice(E_STYLES)(q, z)
    KL = rng.choice(KL_STYLES)
    error = rng.choice([None, None, None, "sign", "kl", "half"])
    sp = rng.choice([" ", "  "])
    blocks = [
        ("Part (a): the ELBO decomposition.", _elbo_chain(q, p, z, x, E, KL, error)),
        ("Part (b): reconstruction minus KL.", _second_form(q, p, z, x, E, KL, error)),
        ("Part (c): the Gaussian KL term.", _gaussian_kl(error)),
    ]
    out = [f"# Homework 5, student {i:03d}", ""]
    for title, lines in blocks:
        out += [title, "", "$$\\begin{aligned}"]
        out += [ln.replace(" ", sp) + " \\\\" for ln in lines[:-1]] + [lines[-1].replace(" ", sp), "\\end{aligned}$$", ""]
    out += ["Since the KL divergence is nonnegative,", "",
            f"$$\\log {p}({x}) \\geq {E}[\\log {p}({x}|{z}) + \\log {p}({z}) - \\log {q}]$$", ""]
    return "\n".join(out), error


CORPORA = (ROOT / "tests" / "data" / "corpus", ROOT.parent / "shared" / "real", ROOT.parent / "shared" / "submissions")


def collect(folder: Path, count: int) -> tuple[int, dict]:
    """Copy up to ``count`` real and corpus derivations into ``folder``; the rest generated.

    Returns (how many were copied, the planted errors of the generated ones)."""
    folder.mkdir(parents=True, exist_ok=True)
    copied = 0
    for source in CORPORA:
        for f in sorted(source.glob("*.md")) + sorted(source.glob("*.tex")):
            if f.stem.upper().startswith("README") or copied >= count:
                continue
            (folder / f"{source.name}_{f.name}").write_bytes(f.read_bytes())
            copied += 1
    return copied, generate(folder, count - copied, start=copied)


def generate(folder: Path, count: int, seed: int = 0, start: int = 0) -> dict:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    planted = {}
    for i in range(start, start + count):
        text, error = submission(i, rng)
        (folder / f"student_{i:03d}.md").write_text(text)
        planted[f"student_{i:03d}.md"] = error
    return planted


def run(folder: Path, jobs: int, cache: bool, examples: int, time_limit: float, timeout: float,
        planted: dict | None = None) -> dict:
    cmd = [sys.executable, "-m", "elbo_proofs", "grade", str(folder), "--format", "json", "--jobs", str(jobs),
           "--examples", str(examples), "--time-limit", str(time_limit)]
    if not cache:
        cmd.append("--no-cache")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"jobs": jobs, "cache": cache, "seconds": None, "note": f"stopped after {timeout:g} s"}
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return {"jobs": jobs, "cache": cache, "seconds": seconds, "note": "no JSON: " + proc.stderr.strip()[-300:]}
    steps = sum(len(d["steps"]) for d in data)
    return {
        "jobs": jobs, "cache": cache, "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
        "load_before": round(load, 2) if load is not None else None, "submissions": len(data), "steps": steps,
        "with_error": sum(1 for d in data if d["first_error_line"]),
        "failed": sum(1 for d in data if d["status"] != "graded"),
        "valid": sum(1 for d in data for s in d["steps"] if s["verdict"] == "valid"),
        "invalid": sum(1 for d in data for s in d["steps"] if s["verdict"] == "invalid"),
        "exit_code": proc.returncode,
        # submissions where "has an error" agrees with "an error was planted"
        "agree_with_planted": (sum(1 for d in data if Path(d["path"]).name in planted
                                   and bool(d["first_error_line"]) == bool(planted[Path(d["path"]).name]))
                               if planted is not None else None),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--configs", default="1:nocache,1:cache,2:nocache,2:cache",
                    help="comma-separated JOBS:cache|nocache (default: all four)")
    ap.add_argument("--examples", type=int, default=50)
    ap.add_argument("--time-limit", type=float, default=5.0)
    ap.add_argument("--timeout", type=float, default=900.0, help="stop one configuration after this many seconds")
    ap.add_argument("--folder", help="generate into this folder (default: a temporary one)")
    ap.add_argument("--generated", action="store_true",
                    help="only generated submissions (default: the corpora first, then generated ones)")
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args(argv)

    tmp = None
    if args.folder:
        folder = Path(args.folder)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="grade-bench-")
        folder = Path(tmp.name)
    if args.generated:
        copied, planted = 0, generate(folder, args.count)
    else:
        copied, planted = collect(folder, args.count)
    n_err = sum(1 for e in planted.values() if e)
    print(f"{args.count} submissions in {folder}: {copied} from {', '.join(str(c) for c in CORPORA)}, "
          f"{len(planted)} generated ({n_err} with a planted error); cpus: {os.cpu_count()}")
    rows = []
    for spec in args.configs.split(","):
        jobs, mode = spec.split(":")
        row = run(folder, int(jobs), mode == "cache", args.examples, args.time_limit, args.timeout, planted)
        rows.append(row)
        print(json.dumps(row))
    print()
    print(f"| jobs | cache | wall s | CPU s | load before | steps | with error (planted {n_err}) | agree with planted | failed |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        secs = r.get("seconds")
        print(f"| {r['jobs']} | {'on' if r['cache'] else 'off'} | {secs if secs is not None else r.get('note')} | "
              f"{r.get('cpu_seconds', '-')} | {r.get('load_before', '-')} | {r.get('steps', '-')} | "
              f"{r.get('with_error', '-')} | {r.get('agree_with_planted', '-')} | {r.get('failed', '-')} |")
    uncached = {r["jobs"]: r["seconds"] for r in rows if not r["cache"] and r.get("seconds")}
    summary = {}
    if uncached:
        most = max(uncached)
        summary["uncached_seconds"] = uncached[most]
        print(f"\n{args.count} submissions uncached with --jobs {most}: {uncached[most]:.1f} s (aim: 60 s on 2 cores)")
    if 1 in uncached and 2 in uncached:
        summary["speedup_2_over_1"] = round(uncached[1] / uncached[2], 2)
        print(f"2 workers over 1, uncached: {uncached[1] / uncached[2]:.2f}x (aim: 1.7x)")
    if args.json:
        Path(args.json).write_text(json.dumps({"count": args.count, "copied": copied, "planted_errors": n_err,
                                               "runs": rows, **summary}, indent=2))
    if tmp:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
