"""Step-level cache: a step that many students write identically is checked once.

The key is the canonical text of what the checker sees: ``srepr`` of both sides,
the relation, the checker options, and the declarations the step depends on
(sorted, so two students who declared the same things in a different order, or
declared unrelated extra symbols, still share entries).

Two layers: a dict in the process, and optionally an SQLite file (stdlib) that
every worker process of a batch opens, so a step checked by one worker is a hit
for the others.  SQLite serializes the writers; WAL mode lets readers go on.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from functools import lru_cache
from pathlib import Path

import sympy as sp

from ..checking import Counterexample, Status, StepVerdict


@lru_cache(maxsize=8192)
def _names_of(expr) -> frozenset:
    return frozenset(_names_uncached(expr))


def _names(expr) -> set[str]:
    """Every name an expression mentions: symbols, density names, functions, bases."""
    try:
        return set(_names_of(expr))
    except TypeError:  # unhashable
        return _names_uncached(expr)


def _names_uncached(expr) -> set[str]:
    out: set[str] = set()
    if expr is None:
        return out
    try:
        nodes = sp.preorder_traversal(expr)
    except Exception:  # not a SymPy object
        return {str(expr)}
    for node in nodes:
        if isinstance(node, sp.Symbol):
            out.add(node.name)
        elif isinstance(node, sp.IndexedBase):
            out.add(str(node.label))
        elif isinstance(node, sp.core.function.AppliedUndef):
            out.add(node.func.__name__)
    return out


@lru_cache(maxsize=8192)
def _srepr(x) -> str:
    return sp.srepr(x)


def _s(x) -> str:
    """srepr, memoized: students share expressions, and each line is the end of one step
    and the start of the next.  (SymPy equality includes assumptions, so equal keys are safe.)"""
    try:
        return _srepr(x)
    except TypeError:
        pass
    except Exception:
        return repr(x)
    try:
        return sp.srepr(x)
    except Exception:
        return repr(x)


PRUNED_TABLES = ("families", "randoms", "lets", "samples", "functions", "factorizations")


def _key_names(key) -> set[str]:
    if isinstance(key, str):
        return {key}
    out = _names(key)
    if isinstance(key, sp.Basic) and hasattr(key, "name") and not isinstance(key, sp.Symbol):
        out.add(key.name)  # a Density: its letter
    return out


def relevant_entries(names: set[str], context) -> tuple[dict, set[str]]:
    """{table: [keys]} of the declarations a step mentioning ``names`` can depend on.

    Closed under dependence: a family that mentions mu pulls in what declares mu.
    Returns the entries and the final set of names.
    """
    names = set(names)
    chosen: dict[str, list] = {t: [] for t in PRUNED_TABLES}
    if context is None:
        return chosen, names
    tables = [(t, getattr(context, t, None) or {}) for t in PRUNED_TABLES]
    taken: set = set()
    changed = True
    while changed:
        changed = False
        for attr, table in tables:
            for key, value in table.items():
                ident = (attr, _s(key))
                if ident in taken or not (_key_names(key) & names):
                    continue
                taken.add(ident)
                chosen[attr].append(key)
                more = _names(value) - names
                if more:
                    names |= more
                changed = True
    return chosen, names


def relevant_context(names: set[str], context) -> str:
    """The declarations that can matter for a step mentioning ``names``, as sorted text."""
    if context is None:
        return ""
    chosen, names = relevant_entries(names, context)
    entries: set[str] = set()
    for attr, keys in chosen.items():
        table = getattr(context, attr)
        for key in keys:
            entries.add(f"{attr}:{_s(key)}={_s(table[key])}")
    for attr in ("vectors", "indices"):
        for key, value in (getattr(context, attr, None) or {}).items():
            if key in names:
                entries.add(f"{attr}:{key}={_s(value)}")
    kinds = getattr(context, "kinds", {}) or {}
    for n in sorted(names):
        if n in kinds:
            entries.add(f"kind:{n}={kinds[n]}")
    for a in getattr(context, "assumptions", None) or ():
        # every assumption: a sign the checker decides may follow from a chain of them
        entries.add(f"assume:{a.lhs} {a.relation} {a.rhs}")
    dn = getattr(context, "density_names", None)
    if dn:
        entries.add("densities:" + ",".join(sorted(dn)))
    return "\n".join(sorted(entries))


def step_context(lhs, rhs, context):
    """A copy of ``context`` with only the declarations the step can depend on.

    Declarations about unrelated parts of the submission (a decoder x_hat(z)
    declared for another derivation) then cannot change how this step is
    checked, and the cache key describes exactly what the checker sees.
    """
    if context is None or not hasattr(context, "copy"):
        return context
    chosen, _ = relevant_entries(_names(lhs) | _names(rhs), context)
    ctx = context.copy()
    for attr, keys in chosen.items():
        table = getattr(context, attr)
        setattr(ctx, attr, {k: table[k] for k in keys})
    return ctx


def step_key(lhs, rhs, relation: str, context, options: tuple = (), memo: dict | None = None) -> str:
    """The cache key of a step.  ``memo`` (one dict per submission, whose context does not
    change while it is graded) remembers the context text per set of names."""
    names = frozenset(_names(lhs) | _names(rhs))
    ctx_text = memo.get(names) if memo is not None else None
    if ctx_text is None:
        ctx_text = relevant_context(set(names), context)
        if memo is not None:
            memo[names] = ctx_text
    text = "\n".join([
        _s(lhs), relation or "", _s(rhs),
        ctx_text,
        repr(tuple(options)),
    ])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@lru_cache(maxsize=1)
def checker_fingerprint() -> str:
    """A digest of the checker's own source: a cache kept across runs (--cache-dir)
    never serves a verdict that an older checker gave."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for folder in ("checking", "numeric", "terms"):
        for f in sorted((root / folder).rglob("*.py")):
            try:
                h.update(f.relative_to(root).as_posix().encode())
                h.update(f.read_bytes())
            except OSError:
                continue
    return h.hexdigest()[:16]


def verdict_to_json(v: StepVerdict) -> str:
    return json.dumps(v.to_dict(), default=str)


def verdict_from_json(text: str) -> StepVerdict:
    d = json.loads(text)
    cx = d.get("counterexample")
    d["status"] = Status(d["status"])
    d["counterexample"] = Counterexample(**cx) if cx else None
    known = StepVerdict.__dataclass_fields__
    return StepVerdict(**{k: v for k, v in d.items() if k in known})


CACHE_FILE = "steps.sqlite"
_TABLE = "CREATE TABLE IF NOT EXISTS steps (key TEXT PRIMARY KEY, verdict TEXT NOT NULL, created REAL)"


def prepare_cache_dir(folder) -> tuple[str, str | None]:
    """(path of the cache file in ``folder``, a note or None), after checking it.

    The folder is created when missing.  A folder that is not one, or that cannot
    be read or written, is bad input (an InputError naming it).  A cache file that
    is corrupt or not a cache (not SQLite, another table) is rebuilt, and the note
    says so: a cache only ever costs time.
    """
    import os
    import stat

    from ..errors import InputError

    folder = Path(folder)
    if os.path.lexists(folder) and not folder.is_dir():
        raise InputError("the cache folder is not a folder", file=str(folder))
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the cache folder: {exc.strerror or exc}", file=str(folder)) from None
    if not folder.is_dir():
        raise InputError("the cache folder is not a folder", file=str(folder))
    if not os.access(folder, os.R_OK | os.W_OK | os.X_OK):
        raise InputError("the cache folder cannot be read and written (permission denied)", file=str(folder))
    path = folder / CACHE_FILE
    note = None
    if os.path.lexists(path):
        try:
            mode = os.stat(path).st_mode
        except OSError as exc:
            raise InputError(f"cannot read the cache: {exc.strerror or exc}", file=str(path)) from None
        if not stat.S_ISREG(mode):
            raise InputError("the cache is not a regular file", file=str(path))
        if not os.access(path, os.R_OK | os.W_OK):
            raise InputError("the cache cannot be read and written (permission denied)", file=str(path))
    for attempt in range(2):
        try:
            conn = sqlite3.connect(str(path), timeout=30.0, isolation_level=None)
            try:
                ok = conn.execute("PRAGMA quick_check").fetchone()
                if not ok or ok[0] != "ok":
                    raise sqlite3.DatabaseError(f"integrity check: {ok[0] if ok else 'no answer'}")
                conn.execute(_TABLE)
                cols = [row[1] for row in conn.execute("PRAGMA table_info(steps)")]
                if cols[:3] != ["key", "verdict", "created"]:
                    raise sqlite3.DatabaseError("not a step cache")
                conn.execute("SELECT key, verdict FROM steps LIMIT 1").fetchall()
            finally:
                conn.close()
            return str(path), note
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or attempt:
                raise InputError(f"cannot use the cache: {exc}", file=str(path)) from None
            problem = str(exc)
        except sqlite3.DatabaseError as exc:
            if attempt:
                raise InputError(f"cannot rebuild the cache: {exc}", file=str(path)) from None
            problem = str(exc)
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.unlink(f"{path}{suffix}")
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise InputError(f"the cache is unusable ({problem}) and cannot be removed: "
                                 f"{exc.strerror or exc}", file=str(path)) from None
        note = f"{path}: the cache was unusable ({problem}); rebuilt empty"
    raise AssertionError("unreachable")


class StepCache:
    """get/put StepVerdicts by key; ``path`` (optional) is an SQLite file shared by workers."""

    def __init__(self, path: str | Path | None = None):
        self.path = str(path) if path else None
        self.memory: dict[str, str] = {}
        self.hits = 0
        self.misses = 0
        self._conn: sqlite3.Connection | None = None

    # -- storage -------------------------------------------------------------
    def _db(self) -> sqlite3.Connection | None:
        if self.path is None:
            return None
        if self._conn is None:
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
                try:
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.execute("PRAGMA synchronous=OFF")   # a cache: losing it on a crash costs only time
                except sqlite3.DatabaseError:
                    pass
                conn.execute(_TABLE)
            except (OSError, sqlite3.Error):
                # checked before the batch (prepare_cache_dir); if it breaks later, go on in memory
                self.path = None
                return None
            self._conn = conn
        return self._conn

    def get(self, key: str) -> StepVerdict | None:
        text = self.memory.get(key)
        if text is None:
            db = self._db()
            if db is not None:
                try:
                    row = db.execute("SELECT verdict FROM steps WHERE key = ?", (key,)).fetchone()
                except sqlite3.Error:
                    row = None
                if row:
                    text = row[0]
                    self.memory[key] = text
        if text is None:
            self.misses += 1
            return None
        try:
            verdict = verdict_from_json(text)
        except (ValueError, TypeError, KeyError, AttributeError):  # a damaged entry: a miss, and forgotten
            self.memory.pop(key, None)
            self.misses += 1
            return None
        self.hits += 1
        return verdict

    def put(self, key: str, verdict: StepVerdict) -> None:
        text = verdict_to_json(verdict)
        self.memory[key] = text
        db = self._db()
        if db is not None:
            for _ in range(3):
                try:
                    db.execute("INSERT OR REPLACE INTO steps (key, verdict, created) VALUES (?, ?, ?)",
                               (key, text, time.time()))
                    break
                except sqlite3.OperationalError:  # locked for longer than the timeout
                    time.sleep(0.05)
                except sqlite3.Error:
                    break

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __len__(self) -> int:
        return len(self.memory)

    # pickling for worker processes: the path travels, the connection does not
    def __getstate__(self):
        return {"path": self.path}

    def __setstate__(self, state):
        self.__init__(state.get("path"))
