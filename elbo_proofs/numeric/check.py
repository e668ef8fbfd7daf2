"""numeric_check: does a step hold on concrete models that Hypothesis draws?

For a step ``lhs relation rhs`` the check draws models (models.py), evaluates
both sides (evaluate.py) and asks Hypothesis to *find* a model on which the
relation fails; Hypothesis then shrinks it, so a refuted step comes with the
simplest failing model it could reach.
"""
from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass

import numpy as np
import sympy as sp
from hypothesis import HealthCheck, Phase, Verbosity, find, settings
from hypothesis.control import currently_in_test_context
from hypothesis.errors import NoSuchExample

from ..terms import Context, Expectation, Variance, free_draws, relations
from .evaluate import SHADOW, Evaluator, NumericFailure, Unevaluable, Vec, check_supported
from ..terms import Density
from .evaluate import find_family
from .models import ConcreteModel, make_plan, model_strategy, role_of
from .quadrature import QuadratureError
from .result import Counterexample, NumericResult

RTOL = 1e-5          # relative tolerance of "=" and of the slack of "<=", ">="
ATOL = 1e-5          # absolute tolerance
REPETITIONS = 2000   # estimator repetitions per seed
SE_BAND = 5.0        # an estimator agrees when its mean is within 5 standard errors
SAMPLE_SEEDS = (20240601, 977)   # both must refute an estimator step
MAX_SHARE = 0.1      # largest share of the squared deviation one repetition may carry
MAX_SHRINK_CALLS = 400           # evaluations spent shrinking a counterexample


_SKIPPABLE = (NumericFailure, ArithmeticError, ValueError, QuadratureError)
_INTERNAL = (TypeError, IndexError, KeyError, AttributeError, RecursionError)


@dataclass
class _Outcome:
    lhs: float
    rhs: float
    holds: bool
    note: str = ""


def numeric_check(lhs, rhs, relation: str, context: Context, examples: int = 50, seed: int = 0, *,
                  rtol: float = RTOL, atol: float = ATOL) -> NumericResult:
    """Check ``lhs relation rhs`` on up to ``examples`` generated models."""
    rel = relations.parse(str(relation))
    if rel is None:
        return NumericResult("unevaluable", detail=f"unknown relation {relation!r}")
    lhs, rhs = sp.sympify(lhs), sp.sympify(rhs)
    try:
        check_supported(lhs)
        check_supported(rhs)
        estimator = (rel == "~=" and (has_samples(lhs, context) or has_samples(rhs, context))) or \
            (rel == "=" and (over_samples(lhs, context) or over_samples(rhs, context)))
        plan = make_plan([lhs, rhs], context, estimator=estimator)
    except Unevaluable as exc:
        return NumericResult("unevaluable", detail=str(exc))
    except RecursionError:
        return NumericResult("unevaluable", detail="expression too deeply nested")

    judge = _Judge(lhs, rhs, rel, context, plan.sample_names if estimator else set(), seed, rtol, atol)
    strategy = model_strategy(plan)
    cfg = settings(max_examples=max(1, int(examples)), database=None, deadline=None, derandomize=False,
                   suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.shrink],
                   verbosity=Verbosity.quiet, report_multiple_bugs=False)
    try:
        model = _find(strategy, judge.violated, cfg, seed)
    except NoSuchExample:
        model = None
    except Unevaluable as exc:   # a model strategy that cannot be drawn (e.g. a dimension)
        return NumericResult("unevaluable", detail=str(exc))
    except Exception as exc:
        # an interruption (a caller's time limit) raised inside the search comes back wrapped
        if judge.interrupt is not None:
            raise judge.interrupt from None
        orig = _original_error(exc)
        if isinstance(orig, Unevaluable):
            return NumericResult("unevaluable", detail=str(orig))
        raise orig from None
    if judge.interrupt is not None:
        raise judge.interrupt

    if model is not None:
        model.used.clear()
        out = judge.outcome(model)
        cex = Counterexample(values=model.values(used_only=True), lhs=out.lhs, rhs=out.rhs, model=model.name,
                             note=out.note)
        return NumericResult("counterexample", cex, judge.agreed, skipped=judge.skipped_count)
    if judge.agreed == 0:
        reason = judge.reason() or "no model could be evaluated"
        return NumericResult("unevaluable", None, 0, reason, judge.skipped_count)
    if _too_few(judge.agreed, judge.skipped_count):
        return NumericResult("unevaluable", None, judge.agreed, _too_few_reason(judge.agreed, judge.skipped_count),
                             judge.skipped_count)
    detail = f"{judge.skipped_count} models skipped" if judge.skipped_count else ""
    return NumericResult("agree", None, judge.agreed, detail, judge.skipped_count)


def numeric_check_chain(pairs, context: Context, examples: int = 50, seed: int = 0, *,
                        rtol: float = RTOL, atol: float = ATOL) -> list[NumericResult | None]:
    """Check several relations ``(lhs, relation, rhs)`` (the steps of a chain) on the same models.

    One Hypothesis run draws up to ``examples`` models for all of them and
    evaluates every distinct expression once per model; each relation is then
    judged on the values.  A relation that fails on some model is checked on its
    own with ``numeric_check``, whose search and shrinking give its counterexample.
    Estimator steps (``~=`` with samples) and relations that cannot share the
    models come back as None: the caller checks those on their own.
    """
    out: list[NumericResult | None] = [None] * len(pairs)
    chosen, exprs = [], {}
    for i, (lhs, rel_text, rhs) in enumerate(pairs):
        rel = relations.parse(str(rel_text))
        try:
            lhs, rhs = sp.sympify(lhs), sp.sympify(rhs)
            if rel is None or (rel == "~=" and (has_samples(lhs, context) or has_samples(rhs, context))) \
                    or over_samples(lhs, context) or over_samples(rhs, context):
                continue
            check_supported(lhs)
            check_supported(rhs)
        except (Unevaluable, RecursionError):
            continue
        chosen.append((i, lhs, rel, rhs))
        exprs.setdefault(lhs, len(exprs))
        exprs.setdefault(rhs, len(exprs))
    if not chosen:
        return out
    try:
        plan = make_plan(list(exprs), context, estimator=False)
    except (Unevaluable, RecursionError):
        return out
    probe = _ChainProbe(chosen, list(exprs), context, rtol, atol)
    cfg = settings(max_examples=max(1, int(examples)), database=None, deadline=None, derandomize=False,
                   suppress_health_check=list(HealthCheck), phases=[Phase.generate],
                   verbosity=Verbosity.quiet, report_multiple_bugs=False)
    try:
        _find(model_strategy(plan), probe, cfg, seed)
    except NoSuchExample:
        pass
    except Exception:
        if probe.interrupt is not None:
            raise probe.interrupt from None
        return out   # the models cannot be drawn together: each step on its own
    if probe.interrupt is not None:
        raise probe.interrupt
    for k, (i, lhs, rel, rhs) in enumerate(chosen):
        agreed, skipped = probe.agreed[k], probe.skipped[k]
        if probe.failed[k] is not None:
            alone = numeric_check(lhs, rhs, rel, context, examples=examples, seed=seed, rtol=rtol, atol=atol)
            if alone.status != "counterexample":
                # its own search missed what the shared models showed: that model is the counterexample
                model = probe.failed[k]
                model.used.clear()
                judge = _Judge(lhs, rhs, rel, context, set(), seed, rtol, atol)
                res = judge.outcome(model)
                cex = Counterexample(values=model.values(used_only=True), lhs=res.lhs, rhs=res.rhs,
                                     model=model.name, note=res.note)
                alone = NumericResult("counterexample", cex, agreed, skipped=skipped)
            out[i] = alone
        elif agreed == 0:
            reason = probe.reasons[k].most_common(1)[0][0] if probe.reasons[k] else "no model could be evaluated"
            out[i] = NumericResult("unevaluable", None, 0, reason, skipped)
        elif _too_few(agreed, skipped):
            out[i] = NumericResult("unevaluable", None, agreed, _too_few_reason(agreed, skipped), skipped)
        else:
            out[i] = NumericResult("agree", None, agreed, f"{skipped} models skipped" if skipped else "", skipped)
    return out


# Agreement on a few models, when most drawn models could not be evaluated (a log of a value the
# models draw negative), is no support: the models that could be evaluated may be the special ones
# (a binary x_j = 1 that hides a sign error in the (1 - x_j) term).
MIN_AGREED_WHEN_SKIPPING = 3


def _too_few(agreed: int, skipped: int) -> bool:
    return agreed < MIN_AGREED_WHEN_SKIPPING and skipped > agreed


def _too_few_reason(agreed: int, skipped: int) -> str:
    return (f"only {agreed} of {agreed + skipped} drawn models could be evaluated (the others give values "
            f"outside the domain of a function), too few to support the step")


class _ChainProbe:
    """Evaluates every expression of a chain once per drawn model and judges each relation."""

    def __init__(self, chosen, exprs, ctx, rtol, atol):
        self.chosen, self.exprs, self.ctx = chosen, exprs, ctx
        self.index = {e: n for n, e in enumerate(exprs)}
        self.judges = [_Judge(lhs, rhs, rel, ctx, set(), 0, rtol, atol) for _, lhs, rel, rhs in chosen]
        self.agreed = [0] * len(chosen)
        self.skipped = [0] * len(chosen)
        self.failed: list = [None] * len(chosen)
        self.reasons = [Counter() for _ in chosen]
        self.interrupt: BaseException | None = None

    def __call__(self, model: ConcreteModel) -> bool:
        if self.interrupt is None:
            try:
                self._probe(model)
            except BaseException as exc:  # not a verdict on the model: stop, re-raise after the search
                self.interrupt = exc
        return False   # never "found": every model is drawn, none is shrunk here

    def _value(self, ev, env, e):
        try:
            v = ev.evaluate(e, env)
            if v.ndim:
                raise Unevaluable("a side still depends on an unbound variable")
            v = float(v)
        except Unevaluable as exc:
            return None, str(exc)
        except _SKIPPABLE as exc:
            return None, f"evaluation failed on the drawn models ({type(exc).__name__}: {exc})"
        except _INTERNAL as exc:
            return None, f"cannot evaluate ({type(exc).__name__}: {exc})"
        if not np.isfinite(v):
            return None, "both sides are not finite on the drawn models"
        return v, ""

    def _probe(self, model: ConcreteModel) -> None:
        try:
            ev = Evaluator(self.ctx, model)
            env = model.env()
        except _SKIPPABLE + _INTERNAL + (Unevaluable,) as exc:
            for k in range(len(self.chosen)):
                self.skipped[k] += 1
                self.reasons[k][f"evaluation failed on the drawn models ({type(exc).__name__}: {exc})"] += 1
            return
        values = [self._value(ev, env, e) for e in self.exprs]
        for k, (_, lhs, _, rhs) in enumerate(self.chosen):
            (l, why_l), (r, why_r) = values[self.index[lhs]], values[self.index[rhs]]
            if l is None or r is None:
                self.skipped[k] += 1
                self.reasons[k][why_l or why_r] += 1
            elif self.judges[k]._holds(l, r):
                self.agreed[k] += 1
            elif self.failed[k] is None:
                self.failed[k] = model


def _find(strategy, condition, cfg, seed):
    """hypothesis.find; inside a running Hypothesis test it runs in its own thread.

    Hypothesis keeps its test context per thread and refuses to start a search
    nested in a test (health check nested_given, read from the default
    settings); a fresh thread is an independent search.
    """
    def run():
        return find(strategy, condition, settings=cfg, random=random.Random(seed))

    if not currently_in_test_context():
        return run()
    box: dict = {}

    def target():
        try:
            box["value"] = run()
        except BaseException as exc:  # handed to the calling thread
            box["error"] = exc

    worker = threading.Thread(target=target, name="numeric-check", daemon=True)
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _original_error(exc: BaseException) -> BaseException:
    """The first non-Hypothesis exception in a chain or group Hypothesis wrapped around it."""
    seen, queue = set(), [exc]
    while queue:
        e = queue.pop(0)
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if not type(e).__module__.startswith("hypothesis"):
            return e
        queue.extend([e.__cause__, e.__context__, *getattr(e, "exceptions", ())])
    return exc


def _is_vector_density(dist, ctx: Context, model: ConcreteModel) -> bool:
    """Whether a density term is over a vector (a product over components)."""
    if isinstance(dist, sp.Product):
        return True
    if isinstance(dist, Density):
        fam = find_family(ctx, dist)
        if fam is not None:
            return _is_vector_density(fam, ctx, model)
        return model.is_vector_role(role_of(dist.vars[0]), dist)
    return False


def has_samples(e, ctx: Context) -> bool:
    """Whether e is a function of declared samples (draws bound by an expectation over them do not count)."""
    return bool(free_draws(sp.sympify(e), set(ctx.samples)))


def over_samples(e, ctx: Context) -> bool:
    """Whether a term holds an E or a Var over the draws of declared samples (checked on repeated draws)."""
    return any(ctx.over_samples(op) for op in sp.sympify(e).atoms(Expectation, Variance))


class _Judge:
    """Evaluates the relation on a model; remembers results so replays are deterministic."""

    def __init__(self, lhs, rhs, rel, ctx, sample_names, seed, rtol, atol):
        self.lhs, self.rhs, self.rel, self.ctx = lhs, rhs, rel, ctx
        self.sample_names = sample_names
        self.seed = seed
        self.rtol, self.atol = rtol, atol
        self.agreed = 0
        self.skipped_count = 0
        self.reasons: Counter = Counter()
        self.found = False
        self.shrink_calls = 0
        self.cache: dict = {}
        self.interrupt: BaseException | None = None

    def reason(self) -> str:
        if not self.reasons:
            return ""
        (reason, _), = self.reasons.most_common(1)
        return reason

    @staticmethod
    def _key(model: ConcreteModel):
        return tuple(sorted(model.values().items()))

    def violated(self, model: ConcreteModel) -> bool:
        if self.interrupt is not None:
            return False
        try:
            return self._violated(model)
        except BaseException as exc:  # not a verdict on the model: stop the search, re-raise after it
            self.interrupt = exc
            return False

    def _violated(self, model: ConcreteModel) -> bool:
        try:
            key = self._key(model)
        except _SKIPPABLE:
            return False
        if key in self.cache:
            return self.cache[key]
        if self.found:
            self.shrink_calls += 1
            if self.shrink_calls > MAX_SHRINK_CALLS:
                return False   # stop spending time on shrinking; the best example so far stands
        try:
            out = self.outcome(model)
        except Unevaluable as exc:
            self._skip(str(exc))
            return self._remember(key, False)
        except _SKIPPABLE as exc:
            self._skip(f"evaluation failed on the drawn models ({type(exc).__name__}: {exc})")
            return self._remember(key, False)
        except _INTERNAL as exc:
            self._skip(f"cannot evaluate ({type(exc).__name__}: {exc})")
            return self._remember(key, False)
        if out is None:
            self._skip("both sides are not finite on the drawn models")
            return self._remember(key, False)
        if out.holds:
            if not self.found:
                self.agreed += 1
            return self._remember(key, False)
        self.found = True
        return self._remember(key, True)

    def _remember(self, key, value):
        self.cache[key] = value
        return value

    def _skip(self, reason):
        if not self.found:
            self.skipped_count += 1
            self.reasons[reason] += 1

    # -- evaluation ----------------------------------------------------------------
    def outcome(self, model: ConcreteModel) -> _Outcome | None:
        ev = Evaluator(self.ctx, model)
        if not self.sample_names:
            env = model.env()
            l, r = ev.evaluate(self.lhs, env), ev.evaluate(self.rhs, env)
            if l.ndim or r.ndim:
                raise Unevaluable("a side still depends on an unbound variable")
            l, r = float(l), float(r)
            if not (np.isfinite(l) and np.isfinite(r)):
                return None
            return _Outcome(l, r, self._holds(l, r))
        results = []
        top = model.env()
        for s in SAMPLE_SEEDS:
            rng = np.random.default_rng([s, int(self.seed) & 0xFFFFFFFF])
            env = model.env(extra_vectors=self._samples(ev, model, rng), depth=1, size=REPETITIONS)
            # a side without samples is evaluated once, at the top level (full quadrature grids)
            l, r = (np.broadcast_to(ev.evaluate(side, env if has_samples(side, self.ctx) else top), (REPETITIONS,))
                    for side in (self.lhs, self.rhs))
            if not (np.all(np.isfinite(l)) and np.all(np.isfinite(r))):
                return None
            diff = l - r
            centred = (diff - diff.mean()) ** 2
            if centred.sum() > 0 and centred.max() > MAX_SHARE * centred.sum():
                # one repetition carries much of the variance: the standard error is not
                # trustworthy (heavy tails, e.g. importance weights), so this model cannot decide
                raise NumericFailure("the estimator is too heavy-tailed on this model for a standard-error test")
            mean, se = float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(REPETITIONS))
            lm, rm = float(l.mean()), float(r.mean())
            tol = SE_BAND * se + self.atol + self.rtol * max(abs(lm), abs(rm))
            results.append((lm, rm, abs(mean) <= tol, se))
        lm, rm, _, se = results[0]
        holds = any(ok for _, _, ok, _ in results)
        note = (f"estimator averaged over {REPETITIONS} repetitions (standard error of the difference {se:.3g}; "
                f"refuted with two independent sample seeds)")
        return _Outcome(lm, rm, holds, note)

    def _holds(self, l: float, r: float) -> bool:
        tol = self.atol + self.rtol * max(abs(l), abs(r))
        if self.rel in ("=", "~="):
            return abs(l - r) <= tol
        if self.rel == "<=":
            return l <= r + tol
        return l >= r - tol

    def _samples(self, ev: Evaluator, model: ConcreteModel, rng):
        out = {}
        env0 = model.env()
        for name in sorted(self.sample_names):
            index, _, dist = self.ctx.samples[name]
            spec = self.ctx.indices.get(index.name)
            lo, hi = (spec[1], spec[2]) if spec else (1, self.ctx.vectors[name][1])
            a, b = ev.integer(sp.sympify(lo), env0), ev.integer(sp.sympify(hi), env0)
            if a != 1:
                raise Unevaluable(f"samples {name} must be indexed from 1")
            gp = ev.gaussian_params(dist, env0)
            if gp is None:
                raise Unevaluable(f"cannot draw samples from {dist}")
            m, v = (np.asarray(a, dtype=float) for a in gp)
            if m.ndim != 1 or v.ndim != 1 or np.any(v <= 0):
                raise NumericFailure("the sample density has no finite positive variance")
            draws = [m[:, None] + np.sqrt(v)[:, None] * rng.standard_normal((len(m), REPETITIONS))
                     for _ in range(b)]
            # a sample from a density over a vector is itself a vector (its components z_l[k])
            is_vector = _is_vector_density(dist, self.ctx, model)
            out[name] = Vec([Vec(list(d)) if is_vector else d[0] for d in draws])
            # a second, independent set of draws: the variance over the samples compares the two
            again = [m[:, None] + np.sqrt(v)[:, None] * rng.standard_normal((len(m), REPETITIONS))
                     for _ in range(b)]
            out[name + SHADOW] = Vec([Vec(list(d)) if is_vector else d[0] for d in again])
        return out
