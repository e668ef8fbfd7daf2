"""How well the grader reads derivations: per file and in total, against each collection's key.

Collections: tests/data/corpus (key.json), ../shared/real (key.json) and ../shared/submissions
(the bad lines its README names).  For every file it grades once and reports

    steps      relations the grader found (every chain step and standalone claim, read or not)
    read       of those, the ones it could read (verdict other than unparsed)
    decided    of those, the ones it decided (valid or invalid)
    false      lines outside the key's bad_lines that it called invalid
    first      for a file with a wrong line: whether the first invalid line is the key's first bad line

and the totals: the share of erroneous files whose first error was found, of files with no line
wrongly called invalid, of steps read and of steps decided, and the count of correct lines
called invalid.

    python bench/read_corpus.py                        # all three collections, two workers
    python bench/read_corpus.py --collections corpus --jobs 1 --json out.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from elbo_proofs.grading import GradeOptions  # noqa: E402
from elbo_proofs.grading.batch import BatchConfig, grade_batch  # noqa: E402

SHARED = ROOT.parent / "shared"
# ../shared/submissions/README.md: the lines a correct grader calls wrong, the first one first
SUBMISSIONS_KEY = {
    "csc421_hw5.md": {"bad_lines": []},
    "cs4641_appendix.md": {"bad_lines": [15]},
    "exercise3_slides.md": {"bad_lines": [93, 184]},
}


def collections(root_shared: Path) -> dict[str, tuple[Path, dict]]:
    out = {"corpus": (ROOT / "tests" / "data" / "corpus", None)}
    out["real"] = (root_shared / "real", None)
    out["submissions"] = (root_shared / "submissions", SUBMISSIONS_KEY)
    result = {}
    for name, (folder, key) in out.items():
        if key is None:
            kp = folder / "key.json"
            if not kp.exists():
                continue
            key = json.loads(kp.read_text())
        files = {f: v for f, v in key.items() if (folder / f).exists()}
        if files:
            result[name] = (folder, files)
    return result


def measure(result, bad: list[int]) -> dict:
    steps = result.steps
    invalid = sorted({s.line for s in steps if s.verdict == "invalid" and s.line is not None})
    return {
        "status": result.status,
        "steps": len(steps),
        "read": sum(s.verdict != "unparsed" for s in steps),
        "decided": sum(s.verdict in ("valid", "invalid") for s in steps),
        "false_alarms": [ln for ln in invalid if ln not in bad],
        "bad_lines": bad,
        "first_error": result.first_error_line,
        "first_found": (result.first_error_line == bad[0]) if bad else None,
        "seconds": round(result.seconds, 2),
    }


def pct(a: int, b: int) -> str:
    return f"{100 * a / b:.0f}%" if b else "-"


def totals(rows: dict[str, dict]) -> dict:
    erroneous = [r for r in rows.values() if r["bad_lines"]]
    return {
        "files": len(rows),
        "erroneous": len(erroneous),
        "first_found": sum(bool(r["first_found"]) for r in erroneous),
        "clean_files": sum(not r["false_alarms"] for r in rows.values()),
        "steps": sum(r["steps"] for r in rows.values()),
        "read": sum(r["read"] for r in rows.values()),
        "decided": sum(r["decided"] for r in rows.values()),
        "false_alarm_lines": sum(len(r["false_alarms"]) for r in rows.values()),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--collections", default="corpus,real,submissions")
    ap.add_argument("--shared", type=Path, default=SHARED, help="folder holding real/ and submissions/")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--examples", type=int, default=15)
    ap.add_argument("--time-limit", type=float, default=6.0)
    ap.add_argument("--json", type=Path, help="write the figures here too")
    ap.add_argument("--quiet", action="store_true", help="totals only")
    args = ap.parse_args(argv)

    wanted = [c.strip() for c in args.collections.split(",") if c.strip()]
    found = collections(args.shared)
    config = BatchConfig(options=GradeOptions(examples=args.examples, time_limit=args.time_limit, hints=False),
                         timeout=300.0)
    report = {}
    for coll in wanted:
        if coll not in found:
            print(f"{coll}: not present, skipped", file=sys.stderr)
            continue
        folder, key = found[coll]
        names = sorted(key)
        start = time.perf_counter()
        results = grade_batch([str(folder / n) for n in names], config, jobs=args.jobs)
        wall = time.perf_counter() - start
        rows = {n: measure(r, key[n]["bad_lines"]) for n, r in zip(names, results)}
        report[coll] = {"files": rows, "totals": totals(rows), "seconds": round(wall, 1)}
        if not args.quiet:
            print(f"\n## {coll} ({folder})\n")
            print("| file | steps | read | decided | correct lines called invalid | first error |")
            print("| --- | ---: | ---: | ---: | --- | --- |")
            for n, r in rows.items():
                first = "-" if not r["bad_lines"] else (
                    f"found (line {r['bad_lines'][0]})" if r["first_found"]
                    else f"missed (line {r['bad_lines'][0]}; got {r['first_error']})")
                fa = ", ".join(map(str, r["false_alarms"])) or "none"
                status = "" if r["status"] == "graded" else f" ({r['status']})"
                print(f"| {n}{status} | {r['steps']} | {r['read']} | {r['decided']} | {fa} | {first} |")
    print("\n| material | files | first error found | correct work left alone | steps read | steps decided "
          "| correct lines called invalid | seconds |")
    print("| --- | ---: | --- | --- | --- | --- | ---: | ---: |")
    for coll, rep in report.items():
        t = rep["totals"]
        print(f"| {coll} | {t['files']} | {t['first_found']} of {t['erroneous']} | {t['clean_files']} of {t['files']} "
              f"| {pct(t['read'], t['steps'])} ({t['read']}/{t['steps']}) "
              f"| {pct(t['decided'], t['steps'])} ({t['decided']}/{t['steps']}) | {t['false_alarm_lines']} "
              f"| {rep['seconds']} |")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
