"""The derivations shipped with the package (elbo_proofs/derivations/*.yaml).

`elbo-proofs check kl_gaussian` and `elbo-proofs train` find them from any
folder: a name that is not a file here is looked up among the shipped ones,
either bare (``kl_gaussian``, ``kl_gaussian.yaml``) or under the folder name the
repository uses (``derivations/vae_elbo.yaml``).
"""
from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).resolve().parent / "derivations"


def builtin_names() -> list[str]:
    """Names (file stems) of the shipped derivations, sorted."""
    if not FOLDER.is_dir():
        return []
    return sorted(p.stem for p in FOLDER.glob("*.yaml"))


def builtin_path(name: str) -> Path | None:
    """The shipped file for `name` (a stem or stem.yaml), or None."""
    stem = name[:-5] if name.endswith(".yaml") else name
    if not stem or "/" in stem or "\\" in stem or stem.startswith("."):
        return None
    path = FOLDER / f"{stem}.yaml"
    return path if path.is_file() else None


def resolve(path) -> Path:
    """`path` itself when it exists; else the shipped derivation it names; else `path` unchanged.

    Only a bare name or ``derivations/NAME.yaml`` falls back to the shipped
    files, so a mistyped path elsewhere still reports "no such file".
    """
    p = Path(path)
    if p.exists():
        return p
    parts = p.parts
    if len(parts) == 1 or (len(parts) == 2 and parts[0] == "derivations"):
        found = builtin_path(parts[-1])
        if found is not None:
            return found
    return p


def builtin_titles() -> list[tuple[str, str]]:
    """(name, title) for every shipped derivation; the title is the file's `title:` line."""
    out = []
    for name in builtin_names():
        title = ""
        try:
            for line in (FOLDER / f"{name}.yaml").read_text(encoding="utf-8").splitlines():
                if line.startswith("title:"):
                    title = line[len("title:"):].strip().strip("'\"")
                    break
        except OSError:
            pass
        out.append((name, title))
    return out
