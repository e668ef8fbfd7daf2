"""Checking a whole derivation: every step against its predecessor, then the goal."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..terms import relations
from ..terms.derivation import Derivation
from .step import check_step, numeric_chain
from .verdict import Status, StepVerdict


@dataclass
class StepResult:
    number: int
    text: str
    relation: str
    justification: str
    line: int | None
    verdict: StepVerdict


@dataclass
class DerivationResult:
    title: str
    path: str | None
    start_text: str = ""
    steps: list[StepResult] = field(default_factory=list)
    goal: StepResult | None = None
    chain_relation: str | None = None

    @property
    def proved(self) -> bool:
        results = self.steps + ([self.goal] if self.goal else [])
        return bool(self.steps) and all(s.verdict.status is Status.PROVED for s in results)

    @property
    def refuted(self) -> bool:
        results = self.steps + ([self.goal] if self.goal else [])
        return any(s.verdict.status is Status.REFUTED for s in results)

    def reasons(self) -> list[str]:
        out = []
        for s in self.steps + ([self.goal] if self.goal else []):
            if s.verdict.status is not Status.PROVED:
                label = "goal" if s is self.goal else f"step {s.number}"
                out.append(f"{label}: {s.verdict.status.value}: {s.verdict.message}")
        return out


def chain_relation(relations_: list[str]) -> str | None:
    """The relation between the first and last expressions; None when the chain establishes none."""
    return relations.chain(relations_)


def check_derivation(derivation: Derivation, *, examples: int = 50, time_limit: float = 5.0,
                     numeric: bool = True, on_step=None) -> DerivationResult:
    result = DerivationResult(derivation.title, derivation.path, derivation.steps[0].text)
    steps = derivation.steps
    ctx = derivation.context
    # the numeric evidence of every step (and of the goal's two ends) comes from one set of drawn models
    pairs = [(prev.expr, step.relation, step.expr) for prev, step in zip(steps, steps[1:])]
    if derivation.goal is not None:
        pairs += [(derivation.goal[0], "=", steps[0].expr), (derivation.goal[2], "=", steps[-1].expr)]
    start = time.perf_counter()
    nums = numeric_chain(pairs, ctx, examples, time_limit) if numeric else [None] * len(pairs)
    share = (time.perf_counter() - start) / len(pairs)   # each step's time includes its share of the run
    for k, (prev, step) in enumerate(zip(steps, steps[1:])):
        v = check_step(prev.expr, step.expr, step.relation, ctx, examples=examples, time_limit=time_limit,
                       numeric=numeric, numeric_result=nums[k])
        v.seconds += share
        sr = StepResult(step.number, step.text, step.relation, step.justification, step.line, v)
        result.steps.append(sr)
        if on_step:
            on_step(sr)
    result.chain_relation = chain_relation([s.relation for s in steps[1:]])
    if derivation.goal is not None:
        result.goal = _check_goal(derivation, result.chain_relation, examples, time_limit, numeric, nums[-2:],
                                  result.steps)
        result.goal.verdict.seconds += 2 * share
    return result


def _check_goal(derivation: Derivation, chain_rel, examples, time_limit, numeric, nums=(None, None),
                steps: list[StepResult] = ()) -> StepResult:
    """The goal must equal first REL last, REL the strongest relation of the chain."""
    glhs, grel, grhs = derivation.goal
    first, last = derivation.steps[0].expr, derivation.steps[-1].expr
    text = derivation.goal_text
    if chain_rel is None:
        v = StepVerdict(Status.NOT_CHECKABLE, grel, method="goal",
                        message="the chain's relations (<= and >=, or an estimate and an inequality) "
                                "establish no relation between its ends")
        return StepResult(0, text, grel, "goal", None, v)
    if not relations.implies(chain_rel, grel):
        v = StepVerdict(Status.REFUTED, grel, method="goal",
                        message=f"the goal states '{grel}' but the chain establishes '{chain_rel}'")
        return StepResult(0, text, grel, "goal", None, v)
    # same ends: goal lhs is the first expression and goal rhs the last (or mirrored)
    a = check_step(glhs, first, "=", derivation.context, examples=examples, time_limit=time_limit, numeric=numeric,
                   numeric_result=nums[0])
    b = check_step(grhs, last, "=", derivation.context, examples=examples, time_limit=time_limit, numeric=numeric,
                   numeric_result=nums[1])
    worst = a if a.status is not Status.PROVED else b
    open_steps = [s for s in steps if s.verdict.status is not Status.PROVED]
    if worst.status is Status.PROVED and open_steps:
        # the ends are right, but a chain with an unproved link establishes nothing
        worst.status = (Status.SUPPORTED if all(s.verdict.status is Status.SUPPORTED for s in open_steps)
                        else Status.NOT_CHECKABLE)
        listed = ", ".join(f"step {s.number} is {s.verdict.status.value}" for s in open_steps)
        worst.message = f"the chain's first and last expressions are the goal's two sides, but the chain does not establish it: {listed}"
        worst.method = "goal"
    elif worst.status is Status.PROVED:
        worst.message = f"the chain's first and last expressions are the goal's two sides; {chain_rel} holds by the chain"
        worst.method = "goal"
    else:
        side = "left" if worst is a else "right"
        worst.message = f"the goal's {side} side is not the chain's {'first' if side == 'left' else 'last'} expression: {worst.message}"
    worst.relation = grel
    return StepResult(0, text, grel, "goal", None, worst)
