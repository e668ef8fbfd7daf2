"""Time and memory limits held from outside the worker: one hostile line costs that line only.

No signal raises anything inside the work: a phase past its limit has its
worker stopped, and the job runs again in a fresh worker that reports that
phase as over its limit and goes on with the rest.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from elbo_proofs import limits
from elbo_proofs.cli import main
from elbo_proofs.grading.commands import main as grade_main
from elbo_proofs.supervisor import Job, Supervisor

ROOT = Path(__file__).resolve().parents[1]


def phases(n, stuck, seconds=0.3):
    """n phases; the ones in ``stuck`` never end on their own."""
    out = []
    for k in range(n):
        try:
            with limits.phase(("phase", k), seconds):
                while k in stuck:
                    pass
                out.append(k)
        except limits.LimitExceeded as exc:
            out.append(f"{k}: {exc}")
    return out


def die(code):
    os._exit(code)


def greedy():
    return len(bytearray(3 * 1024**3))


def fail():
    raise ValueError("bad luck")


def test_a_stuck_phase_costs_that_phase_only():
    with Supervisor(1) as sup:
        [outcome] = sup.run([Job(phases, (5, {1, 3}))])
    assert outcome.ok
    assert outcome.value == [0, "1: exceeded the time limit of 0.3 s", 2, "3: exceeded the time limit of 0.3 s", 4]
    assert outcome.overruns == [0.3, 0.3]


def test_death_exception_timeout_and_memory_are_outcomes():
    with Supervisor(2, memory_mb=1024) as sup:
        outcomes = sup.run([Job(die, (7,)), Job(fail), Job(time.sleep, (30,), timeout=0.5), Job(greedy),
                            Job(phases, (2, set()))])
    died, raised, slow, greedy_, fine = outcomes
    assert died.kind == "died" and died.exitcode == 7 and "exited with code 7" in died.value
    assert raised.kind == "error" and raised.value == "ValueError: bad luck"
    assert slow.kind == "timeout" and "timed out after 0.5 s" in slow.value
    assert greedy_.kind == "error" and "MemoryError" in greedy_.value
    assert fine.ok and fine.value == [0, 1]


def test_phases_are_unlimited_outside_a_supervised_worker():
    assert not limits.supervised()
    with limits.phase(("anything",), 0.001):
        time.sleep(0.01)


def test_workers_die_with_their_parent(tmp_path):
    """Killing the parent of a batch leaves no worker running."""
    script = textwrap.dedent(f"""
        import os, sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from elbo_proofs.supervisor import Job, Supervisor

        def hang(path):
            open(path, "w").write(str(os.getpid()))
            time.sleep(120)

        if __name__ == "__main__":
            with Supervisor(2) as sup:
                sup.run([Job(hang, ({str(tmp_path / 'a')!r},)), Job(hang, ({str(tmp_path / 'b')!r},))])
    """)
    (tmp_path / "parent.py").write_text(script)
    parent = subprocess.Popen([sys.executable, str(tmp_path / "parent.py")])
    try:
        for _ in range(600):
            if (tmp_path / "a").exists() and (tmp_path / "b").exists() and (tmp_path / "a").read_text() \
                    and (tmp_path / "b").read_text():
                break
            time.sleep(0.05)
        pids = [int((tmp_path / n).read_text()) for n in "ab"]
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        for _ in range(200):
            alive = [p for p in pids if _alive(p)]
            if not alive:
                break
            time.sleep(0.05)
        assert not alive, f"workers {alive} outlived their parent"
    finally:
        parent.kill()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


HEAVY = """\
title: a correct chain, then a step too heavy for the limit
symbols: {a: real, b: real, c: real, d: real, x: real}
steps:
  - expr: x + x
  - expr: 2*x
  - expr: 2*x + (a + b + c + d)^60 - (a - b + c - d)^60
  - expr: 2*x
  - expr: x*2 + 0
"""


def test_check_keeps_the_valid_steps_around_a_step_past_its_limit(tmp_path, capsys):
    path = tmp_path / "heavy.yaml"
    path.write_text(HEAVY)
    code = main(["check", str(path), "--time-limit", "0.3", "--no-numeric", "--format", "json"])
    out, err = capsys.readouterr()
    steps = json.loads(out)["derivations"][0]["steps"]
    verdicts = {s["step"]: s["verdict"] for s in steps}
    messages = {s["step"]: s["message"] for s in steps}
    assert verdicts[2] == verdicts[5] == "proved"
    for n in (3, 4):  # into and out of the heavy expression
        assert verdicts[n] == "not checkable" and "exceeded the time limit of 0.3 s" in messages[n]
    assert code == 1 and "Traceback" not in err   # a time limit is not bad input


CORRECT = r"""
The ELBO and the evidence:

$$ \log p(x) = \mathbb{E}_{q(z|x)}[\log p(x)] $$

$$ (x+y)^2 = x^2 + 2xy + y^2 $$
"""


@pytest.mark.parametrize("hostile, expect, exit_code", [
    (r"$$ (((x+y)^{64})^{64})^{64} = (x+y)^{2} $$", "invalid", 1),
    (r"$$ (2x)^{10^{60}} = x $$", "unparsed", 0),
])
def test_grade_keeps_the_valid_steps_before_a_hostile_line(tmp_path, capsys, hostile, expect, exit_code):
    sub = tmp_path / "s.md"
    sub.write_text(CORRECT + "\n" + hostile + "\n")
    code = grade_main([str(sub), "--time-limit", "0.5", "--format", "json"])
    out, err = capsys.readouterr()
    [result] = json.loads(out)
    assert result["status"] == "graded", result["reason"]
    verdicts = [s["verdict"] for s in result["steps"]]
    assert verdicts[:2] == ["valid", "valid"]
    assert verdicts[2] == expect
    assert code == exit_code and "Traceback" not in err


def test_killing_grade_leaves_no_worker(tmp_path):
    """`grade --jobs 2` killed mid-batch: its workers go with it."""
    for k in range(2):
        (tmp_path / f"s{k}.md").write_text("$$ (a+b+c+d)^{60} = (a-b+c-d)^{60} $$\n")
    proc = subprocess.Popen([sys.executable, "-m", "elbo_proofs", "grade", str(tmp_path), "--jobs", "2",
                             "--time-limit", "120", "--no-numeric", "--format", "json"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        workers: list[int] = []
        for _ in range(600):
            workers = _children(proc.pid)
            if len(workers) >= 2:
                break
            time.sleep(0.05)
        assert len(workers) >= 2, "the workers did not start"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        for _ in range(200):
            alive = [p for p in workers if _alive(p)]
            if not alive:
                break
            time.sleep(0.05)
        assert not alive, f"workers {alive} outlived grade"
    finally:
        proc.kill()


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().split(")")[-1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry))
    return out
