"""A checkpoint is a file people share: loading one never runs code and refuses bad data in one line.

The stored objective is a term tree read back node by node (elbo_proofs.terms.serialize); the
stored configuration is checked field by field. Each crafted checkpoint below must be refused
cleanly (exit 2, one line) and must leave no trace of the code it carries.
"""

from __future__ import annotations

import pytest
import sympy as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from elbo_proofs.terms.serialize import LIMITS, TermDataError, term_from_data, term_to_data
from elbo_proofs.training.codegen import vae_elbo_expression
from elbo_proofs.training.config import DEFAULTS, ConfigError, TrainConfig

PAYLOAD = "__import__('os').system('touch pwned') or 1"


# ------------------------------------------------------------------ the term tree

def test_the_shipped_objective_round_trips():
    from elbo_proofs.training.derivation import load_proved_elbo

    for expr in (vae_elbo_expression(), load_proved_elbo("derivations/vae_elbo.yaml")):
        assert term_from_data(term_to_data(expr)) == expr


_x, _y = sp.symbols("x y", real=True)
_s = sp.Symbol("s", positive=True)
_atoms = st.sampled_from([_x, _y, _s, sp.Integer(2), sp.Rational(1, 2), sp.pi, sp.Integer(-3)])


def _combine(children):
    return st.one_of(
        st.tuples(children, children).map(lambda t: t[0] + t[1]),
        st.tuples(children, children).map(lambda t: t[0] * t[1]),
        st.tuples(children, st.integers(-3, 3)).map(lambda t: t[0] ** t[1]),
        children.map(lambda c: sp.log(c)),
        children.map(lambda c: sp.exp(c)),
        children.map(lambda c: sp.Function("f")(c)),
    )


@settings(max_examples=60, deadline=None)
@given(st.recursive(_atoms, _combine, max_leaves=8))
def test_every_stored_term_reads_back_equal(expr):
    assume(not expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo))
    assert term_from_data(term_to_data(expr)) == expr


@pytest.mark.parametrize("data, words", [
    (["sym", PAYLOAD, []], "not a name"),
    (["apply", PAYLOAD, [], ["int", "1"]], "not a name"),
    (["__class__", "x"], "unknown term kind"),
    (["fn", "eval", ["int", "1"]], "unknown stored function"),
    (["int", PAYLOAD], "digits"),
    (["int", "9" * 1000], "digits"),
    (["sym", "x", ["real", PAYLOAD]], "unknown assumption"),
    (["pow", ["int", "2"], ["pow", ["int", "10"], ["int", "60"]]], "power"),
    (["pow", ["pow", ["pow", ["sym", "x", []], ["int", "64"]], ["int", "64"]], ["int", "64"]], "power"),
    (["rat", "1", "0"], "denominator"),
    (5, "holds a int"),
    ("x", "starts with its kind"),
    ({"a": 1}, "holds a dict"),
])
def test_crafted_term_data_is_refused(data, words):
    with pytest.raises(TermDataError, match=words):
        term_from_data(data)


def test_deep_and_huge_term_data_is_refused_without_recursion():
    deep = ["int", "1"]
    for _ in range(5000):
        deep = ["add", deep, ["int", "1"]]
    with pytest.raises(TermDataError, match="nested deeper"):
        term_from_data(deep)
    wide = ["add", *(["int", "1"] for _ in range(LIMITS["nodes"]))]
    with pytest.raises(TermDataError, match="more than"):
        term_from_data(wide)


# ------------------------------------------------------------------ the configuration

@pytest.mark.parametrize("field, value, words", [
    ("iw_samples", -5, "out of range"),
    ("split", "abc", "type str"),
    ("epochs", True, "type bool"),
    ("hidden", 10 ** 12, "above the largest"),
    ("lr", float("nan"), "type float"),
    ("device", PAYLOAD, "expected one of"),
    ("names", ["x"], "type list"),
    ("data_dir", "x" * 100_000, "type str"),
])
def test_bad_config_values_are_named(field, value, words):
    with pytest.raises(ConfigError, match=words) as info:
        TrainConfig.from_dict({**DEFAULTS, field: value})
    assert field in str(info.value)


def test_a_good_config_reads_back_and_unknown_fields_are_ignored():
    cfg = TrainConfig.from_dict({**DEFAULTS, "hidden": 64, "from_a_newer_version": 1})
    assert cfg.hidden == 64 and cfg.latent == DEFAULTS["latent"]


# ------------------------------------------------------------------ whole checkpoints through the CLI

torch = pytest.importorskip("torch")


def _checkpoint(**overrides):
    from elbo_proofs.training.model import VAE

    cfg = {**DEFAULTS, "hidden": 8, "latent": 2}
    ckpt = {"config": cfg, "model": VAE(784, 8, 2).state_dict(), "objective": term_to_data(vae_elbo_expression()),
            "history": []}
    ckpt.update(overrides)
    return ckpt


CRAFTED = {
    "code in the objective name": dict(objective=["sym", PAYLOAD, []]),
    "code as an old-style expression string": dict(objective=PAYLOAD),
    "only an old-style expression": "old",
    "code in a config string": dict(config={**DEFAULTS, "names": PAYLOAD, "hidden": 8, "latent": 2}),
    "code in the device": dict(config={**DEFAULTS, "device": PAYLOAD}),
    "a negative sample count": dict(config={**DEFAULTS, "iw_samples": -5}),
    "a split that is text": dict(config={**DEFAULTS, "split": "abc"}),
    "config of the wrong type": dict(config=[PAYLOAD]),
    "a power bomb": dict(objective=["pow", ["int", "2"], ["pow", ["int", "10"], ["int", "60"]]]),
    "weights of the wrong shape": dict(model={"enc.weight": torch.zeros(3)}),
    "not a mapping": "list",
}


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_crafted_checkpoints_are_refused_and_run_nothing(name, tmp_path, monkeypatch, capsys):
    from elbo_proofs.cli import main

    monkeypatch.chdir(tmp_path)
    spec = CRAFTED[name]
    if spec == "old":
        ckpt = {"config": DEFAULTS, "model": {}, "expr": PAYLOAD}
    elif spec == "list":
        ckpt = [PAYLOAD]
    else:
        ckpt = _checkpoint(**spec)
    torch.save(ckpt, tmp_path / "crafted.pt")
    code = main(["evaluate", str(tmp_path / "crafted.pt"), "--device", "cpu", "--offline",
                 "--data-dir", str(tmp_path / "no-data")])
    out, err = capsys.readouterr()
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "crafted.pt" in lines[0] and "Traceback" not in err
    assert not (tmp_path / "pwned").exists()
