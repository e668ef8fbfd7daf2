"""The run_autograder script of docs/grading.md, run as Gradescope would (paths moved to a temporary folder)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DERIVATION = "# Problem 1\n\n$$\n(a + b)^2 = a^2 + 2ab + b^2\n$$\n"


def _script(base: Path) -> Path:
    text = (ROOT / "docs" / "grading.md").read_text()
    body = re.search(r"`run_autograder`:\n\n```bash\n(.*?)```", text, re.S).group(1)
    body = body.replace("/autograder/venv/bin/elbo-proofs", f"{sys.executable} -m elbo_proofs.cli")
    body = body.replace("/autograder", str(base))
    path = base / "run_autograder"
    path.write_text(body)
    return path


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize("files,score", [({"derivation.md": DERIVATION, "notes.txt": "thanks!\n"}, 10.0), ({}, 0)])
def test_run_autograder_always_leaves_a_results_json(tmp_path, files, score):
    (tmp_path / "source").mkdir()
    (tmp_path / "source" / "assignment.yaml").write_text("points: 10\n")
    (tmp_path / "submission").mkdir()
    for name, text in files.items():
        (tmp_path / "submission" / name).write_text(text)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(["bash", str(_script(tmp_path))], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0
    data = json.loads((tmp_path / "results" / "results.json").read_text())
    assert data["score"] == score
    assert "Traceback" not in proc.stderr
