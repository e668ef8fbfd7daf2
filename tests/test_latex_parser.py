"""Each LaTeX construct students use parses into the term built by hand (or by the
project's own expression syntax under an equivalent context)."""
from __future__ import annotations

import pytest
import sympy as sp

from elbo_proofs.errors import InputError
from elbo_proofs.parsing import parse_expression
from elbo_proofs.parsing.latex_parser import LatexEnv, parse_latex
from elbo_proofs.parsing.names import PointlessNormal
from elbo_proofs.terms import KL, Context, Density, Entropy, Expectation, Normal, SampleExpectation, Variance

R = dict(real=True)
x, z, X, mu, eps = (sp.Symbol(n, **R) for n in ("x", "z", "X", "mu", "eps"))
sigma = sp.Symbol("sigma", real=True, positive=True)
q_zx, p_xz, p_joint, p_z = Density("q", (z,), (x,)), Density("p", (x,), (z,)), Density("p", (x, z)), Density("p", (z,))


def P(latex, env=None):
    return parse_latex(latex, env or LatexEnv())


def same_as_expr(latex, expr_text):
    """LaTeX and the project syntax give the same term under equivalent fresh contexts."""
    a = parse_latex(latex, LatexEnv(Context()))
    b = parse_expression(expr_text, Context(), strict=False)
    assert a == b, (a, b)


# -- expectations ---------------------------------------------------------------
@pytest.mark.parametrize("latex", [
    r"\mathbb{E}_{z \sim q(z|x)}[\log p(x, z)]",
    r"\mathbb{E}_{q(z|x)}[\log p(x, z)]",
    r"\mathbb{E}_{q_\phi(z|x)}[\log p_\theta(x, z)]",
    r"\mathbb{E}_{z \sim q_{\phi}(z | x)}\left[\log p_{\theta}(x,z)\right]",
    r"E_{z \sim q(z|x)}[\ln p(x, z)]",
])
def test_expectation_forms(latex):
    assert P(latex) == Expectation(sp.log(p_joint), z, q_zx)


def test_expectation_matches_project_syntax():
    same_as_expr(r"\mathbb{E}_{z \sim q(z|x)}[\log p(x|z) - \log q(z|x)]",
                 "E[z ~ q(z|x)](log(p(x|z)) - log(q(z|x)))")


def test_expectation_capital_letters():
    Q, PX = Density("Q", (z,), (X,)), Density("P", (X,), (z,))
    assert P(r"\mathbb{E}_{z \sim Q(z|X)}[\log P(X|z)]") == Expectation(sp.log(PX), z, Q)


def test_e_q_takes_the_q_of_the_text():
    env = LatexEnv()
    P(r"q(\mathbf{z})", env)
    q = Density("q", (z,))
    assert P(r"E_q[\log q(\mathbf{z})]", env) == Expectation(sp.log(q), z, q)
    assert P(r"E[z^2]", env) == Expectation(z ** 2, z, q)
    assert P(r"E_q[z]^2", env) == Expectation(z, z, q) ** 2


def test_e_epsilon_is_standard_normal():
    n = Normal(eps, 0, 1)
    assert P(r"E_{\epsilon}[\epsilon^2]") == Expectation(eps ** 2, eps, n)
    assert P(r"\mu E_{\epsilon}[\epsilon]") == mu * Expectation(eps, eps, n)


def test_variance():
    env = LatexEnv()
    P("q(z)", env)
    assert P(r"\text{Var}(z)", env) == Variance(z, z, Density("q", (z,)))
    assert P(r"Var[\epsilon]") == Variance(eps, eps, Normal(eps, 0, 1))


# -- KL and entropy ----------------------------------------------------------------
@pytest.mark.parametrize("latex", [
    r"D_{KL}(q(z|x) || p(z))", r"D_{\text{KL}}(q(z|x) \| p(z))", r"KL(q(z|x) \parallel p(z))",
    r"\mathrm{KL}(q(z|x) \| p(z))", r"D_{KL}[q(z|x)||p(z)]", r"D_{\mathrm{KL}}\left(q(z|x) \,\|\, p(z)\right)",
])
def test_kl_forms(latex):
    assert P(latex) == KL(q_zx, p_z)


def test_kl_of_bare_letters_uses_the_declared_densities():
    env = LatexEnv()
    P(r"q(z) + p(z)", env)
    assert P(r"D_{\text{KL}}(q \parallel p)", env) == KL(Density("q", (z,)), p_z)


def test_kl_between_pointless_normals():
    e = P(r"KL(\mathcal{N}(\mu, \sigma^2) \| \mathcal{N}(0, 1))")
    assert isinstance(e, KL) and isinstance(e.args[0], Normal) and e.args[0].var == sigma ** 2


def test_entropy_forms():
    assert P(r"H(q(z))") == Entropy(Density("q", (z,)))
    env = LatexEnv()
    P(r"q(z|x)", env)
    for latex in (r"\mathbb{H}[q(z|x)]", r"H(q)", r"\mathcal{H}[q]", r"H[z]"):
        assert P(latex, env) == Entropy(q_zx), latex
    assert P(r"\mathcal{H}[\mathcal{N}(z; \mu, \sigma^2)]") == Entropy(Normal(z, mu, sigma ** 2))


# -- densities and names -------------------------------------------------------------
def test_parameter_subscripts_are_not_identity():
    assert P(r"p_\theta(x|z)") == P(r"p(x|z)") == p_xz
    assert P(r"q_{\phi}(z|x)") == q_zx


def test_bold_hat_bar_names():
    env = LatexEnv()
    assert P(r"p(\mathbf{x}|\mathbf{z})", env) == p_xz
    assert P(r"\hat{x}", env).name == "x_hat"
    assert P(r"\bar{z}", env).name == "z_bar"
    assert P(r"\boldsymbol{\mu}", env) == mu


def test_example_superscripts_are_dropped():
    assert P(r"\log p(x^{(i)} | z)") == sp.log(p_xz)
    assert P(r"\sigma^{(i)}") == sigma


def test_sample_superscripts_and_components():
    env = LatexEnv()
    e = P(r"\frac{1}{L}\sum_{l=1}^L \log p(x^{(i)} | z^{(i,l)})", env)
    zl = env.context.vectors["z"][0][env.context.indices["l"][0]]
    L = env.context.symbols["L"]
    l = env.context.indices["l"][0]
    assert e == sp.Sum(sp.log(Density("p", (x,), (zl,))), (l, 1, L)) / L


def test_components_under_sums():
    env = LatexEnv()
    e = P(r"\sum_{j=1}^{d} \left[\sigma_j^2 + (\mu_j)^2\right]", env)
    j = env.context.indices["j"][0]
    s, m = env.context.vectors["sigma"][0], env.context.vectors["mu"][0]
    d = env.context.symbols["d"]
    assert e == sp.Sum(s[j] ** 2 + m[j] ** 2, (j, 1, d))
    # a sum takes the product that follows it, not the terms after a + or -
    assert P(r"\sum_{j=1}^{d} \sigma_j^2 + 1", env) == sp.Sum(s[j] ** 2, (j, 1, d)) + 1


def test_sum_without_range_and_product():
    env = LatexEnv()
    e = P(r"\sum_d \mu_d^2", env)
    assert isinstance(e, sp.Sum) and e.limits[0][2].name == "D"
    e = P(r"\prod_{i=1}^D q_i(z_i)", env)
    assert isinstance(e, sp.Product) and isinstance(e.function, Density) and e.function.name == "q_i"


def test_decoder_output_with_samples():
    env = LatexEnv()
    env.context.functions["x_hat"] = (env.context.symbol("z"),)
    e = P(r"\sum_{l=1}^L \sum_{j=1}^N x_j \log \hat{x}_j^{(i,l)}", env)
    fns = [f for f in e.atoms(sp.Function) if type(f).__name__ == "x_hat"]
    assert fns and all(isinstance(f.args[1], sp.Indexed) and f.args[1].base.label.name == "z" for f in fns)


# -- arithmetic ----------------------------------------------------------------------
@pytest.mark.parametrize("latex, expected", [
    (r"\frac{1}{2}\log(2\pi\sigma^2)", sp.log(2 * sp.pi * sigma ** 2) / 2),
    (r"\log 2\pi\sigma^2", sp.log(2 * sp.pi * sigma ** 2)),
    (r"\sqrt{2\pi}\sigma", sp.sqrt(2 * sp.pi) * sigma),
    (r"e^{-\frac{z^2}{2}}", sp.exp(-z ** 2 / 2)),
    (r"\exp(-z)", sp.exp(-z)),
    (r"\mu * 0 + \sigma \cdot 2 + 0^2", 2 * sigma),
    (r"\sigma\epsilon", sigma * eps),
    (r"\mu + \sigma \odot \epsilon", mu + sigma * eps),
    (r"\frac12 \mu", mu / 2),
    (r"-\frac{(z-\mu)}{\sigma^2} + z", -(z - mu) / sigma ** 2 + z),
    (r"\left( \mu \right)^{2} \quad", mu ** 2),
    (r"\log(\sigma)^2", sp.log(sigma ** 2)),
    (r"\epsilon(-\frac{\epsilon}{\sigma} + \mu)", eps * (-eps / sigma + mu)),
])
def test_arithmetic(latex, expected):
    assert sp.simplify(P(latex) - expected) == 0


def test_implicit_products_with_densities():
    q = Density("q", (z,))
    assert P(r"q(z)\log q(z)") == q * sp.log(q)


def test_integrals():
    q = Density("q", (z,))
    assert P(r"\int q(z) \log q(z) dz") == sp.Integral(q * sp.log(q), z)
    assert P(r"\int_z q(z)\,dz") == sp.Integral(q, z)
    assert P(r"\int_{R^d} q(z) \, \mathrm{d}z") == sp.Integral(q, z)
    assert P(r"\log \frac{1}{\sigma} \int q(z)dz") == sp.log(1 / sigma) * sp.Integral(q, z)
    assert P(r"\log \int p(x, z) \, dz") == sp.log(sp.Integral(p_joint, z))


def test_derivatives():
    assert P(r"\frac{\partial}{\partial \mu} \frac{1}{2}(\mu^2 - 1)") == sp.Derivative(mu ** 2 / 2 - sp.Rational(1, 2), mu)
    assert P(r"\frac{d}{d\mu} \mu^2") == sp.Derivative(mu ** 2, mu)


@pytest.mark.parametrize("latex", [
    r"\nabla_\theta \mathbb{E}_{q_\theta(z)}[f(z)]",
    r"\nabla_{\theta} \mathbb{E}_{q_{\theta}(z)}[f(z)]",
    r"\partial_\theta \mathbb{E}_{q_\theta(z)}[f(z)]",
    r"\frac{\partial}{\partial \theta} \mathbb{E}_{q_\theta(z)}[f(z)]",
    r"\frac{d}{d\theta} \mathbb{E}_{z \sim q_\theta(z)}\left[f(z)\right]",
])
def test_gradient_of_an_expectation_declares_the_parameter_of_its_density(latex):
    env = LatexEnv(Context())
    theta = sp.Symbol("theta", real=True)
    q = Density("q", (z,))
    assert P(latex, env) == sp.Derivative(Expectation(sp.Function("f", real=True)(z), z, q), theta)
    assert env.context.parameters == {"q": (theta,)}


def test_densities_carrying_parameters_declare_them():
    env = LatexEnv(Context())
    P(r"\log p_\theta(x|z) + \log q_\phi(z|x) + \log r(z) + \log p(x; \psi)", env)
    names = {k: {s.name for s in v} for k, v in env.context.parameters.items()}
    assert names == {"p": {"theta", "psi"}, "q": {"phi"}}


def test_normals():
    assert P(r"\mathcal{N}(z; \mu, \sigma^2)") == Normal(z, mu, sigma ** 2)
    assert P(r"\mathcal{N}(z; 0, I)") == Normal(z, 0, 1)
    pn = parse_latex(r"\mathcal{N}(\mu, \sigma)", LatexEnv(), allow_distribution=True)
    assert isinstance(pn, PointlessNormal) and pn.var == sigma ** 2  # a plain sigma is a standard deviation
    pn = parse_latex(r"\mathcal{N}(\mu, \mathrm{diag}(\sigma^2))", LatexEnv(), allow_distribution=True)
    assert pn.mean == mu and pn.var == sigma ** 2


def test_named_quantities():
    env = LatexEnv()
    assert P(r"\mathcal{L}(x^{(i)}; \theta, \phi)", env) == env.context.symbols["L"]
    assert P(r"F(q)", env).name == "F"
    assert P("KL", env).name == "KL"


def test_unknown_functions_are_opaque():
    e = P(r"g(z) + f(x, z)")
    assert {type(a).__name__ for a in e.atoms(sp.Function)} == {"g", "f"}


# -- what is rejected, always as InputError ---------------------------------------------
@pytest.mark.parametrize("latex, words", [
    (r"U \Sigma V^T", "transpose"),
    (r"\frac{\partial (f \circ g)_t}{\partial z}", "composition"),
    (r"g(z) + \mathcal{O}(\lambda^2)", "order"),
    (r"\nabla t", "nabla"),
    (r"\nabla_\theta t", "does not appear"),
    (r"\frac{\partial}{\partial \theta} f_\theta(z)", "through its subscript"),
    (r"\nabla_\theta f(z)", "does not appear"),
    (r"g(z^{(i+1)})", "superscript"),
    (r"\frac{\partial g}{\partial z}", "not defined"),
    (r"\foo{x}", "\\foo"),
    (r"\frac{1}{", "ends early"),
    (r"x + + )", "unexpected"),
    (r"\frac{1}{0}", "division by zero"),
    (r"2^{100000}", "too large"),
    ("(" * 60 + "x" + ")" * 60, "nests"),
    (r"\mathcal{N}(1)", "mean and a variance"),
    (r"E_{w}[w]", "no distribution"),
])
def test_rejections(latex, words):
    with pytest.raises(InputError) as info:
        P(latex)
    assert words in info.value.message


def test_long_input_is_refused():
    with pytest.raises(InputError):
        P("x+" * 3000 + "x")


# -- the same terms as the project's own expression syntax ------------------------------
def _ctx_with_index():
    ctx = Context()
    ctx.index("j", sp.Integer(1), ctx.declare("d", "positive integer"))
    return ctx


@pytest.mark.parametrize("latex, text", [
    (r"\frac{1}{2}\left(\mu^2 + \sigma^2 - \log \sigma^2 - 1\right)", "(mu^2 + sigma^2 - log(sigma^2) - 1)/2"),
    (r"D_{KL}(q(z|x) \| p(z))", "KL(q(z|x) || p(z))"),
    (r"\mathbb{E}_{z \sim q(z|x)}[\log p(x|z)] - D_{KL}(q(z|x) \| p(z))",
     "E[z ~ q(z|x)](log(p(x|z))) - KL(q(z|x) || p(z))"),
    (r"\int q(z) \log q(z) \, dz", "int(q(z)*log(q(z)), z)"),
    (r"\frac{\partial}{\partial \mu} \mu^2", "d/dmu(mu^2)"),
    (r"\sum_{j=1}^{d} \left(1 + \log \sigma_j^2 - \mu_j^2 - \sigma_j^2\right)",
     "sum(j=1..d, 1 + log(sigma_j^2) - mu_j^2 - sigma_j^2)"),
    (r"\prod_{j=1}^{d} \mathcal{N}(z_j; \mu_j, \sigma_j^2)", "prod(j=1..d, N(z_j; mu_j, sigma_j^2))"),
    (r"\mathcal{N}(z; \mu, \sigma^2)", "N(z; mu, sigma^2)"),
    (r"\mathbb{E}_{\epsilon \sim \mathcal{N}(0, 1)}[(\mu + \sigma\epsilon)^2]", "E[eps ~ N(0, 1)]((mu + sigma*eps)^2)"),
    (r"\log p_\theta(x) - \mathbb{E}_{q_\phi(z|x)}\left[\log \frac{p_\theta(x, z)}{q_\phi(z|x)}\right]",
     "log(p(x)) - E[z ~ q(z|x)](log(p(x, z)/q(z|x)))"),
])
def test_same_terms_as_project_syntax(latex, text):
    a = parse_latex(latex, LatexEnv(_ctx_with_index()))
    b = parse_expression(text, _ctx_with_index(), strict=False)
    assert a == b, (a, b)


def test_long_flat_expressions_parse():
    assert P("+".join(["x"] * 1500)) == 1500 * x


def test_words_unicode_and_script_order():
    env = LatexEnv()
    assert P(r"\text{ELBO}(\theta, \phi)", env) == env.context.symbols["ELBO"]
    # subscripts tell named quantities apart (L_beta is not L_ELBO); the argument list is not part of the name
    assert P(r"\mathcal{L}_{\theta,\phi}(x)", env) == env.context.symbols["L_thetaphi"]
    assert P(r"\mathcal{L}_\beta - \mathcal{L}_{\text{ELBO}}", env) != 0
    assert P("μ + σ·ε − 1") == mu + sigma * eps - 1
    assert P(r"\sum^{N}_{i=1} \sigma^2_i") == P(r"\sum_{i=1}^{N} \sigma_i^2")
    e = P(r"\mu_\phi(x) + \sigma_{\phi}(x)")
    assert {type(f).__name__ for f in e.atoms(sp.Function)} == {"mu_phi", "sigma_phi"}
    assert P(r"\mathcal{N}(\mathbf{z}; \mathbf{0}, \mathbf{I})") == Normal(z, 0, 1)
    assert P(r"\mathcal{N}(z; \mu, \sigma^2 I)") == Normal(z, mu, sigma ** 2)


def test_numbered_labels_stay_apart():
    env = LatexEnv()
    a, b = P(r"z^{(1)}", env), P(r"z^{(2)}", env)
    assert a != b and P(r"x^{(i)}", env) == P(r"x^{(j)}", env) == P("x", env)


def test_bare_e_over_the_one_random_variable():
    assert P(r"E[\epsilon^2]") == Expectation(eps ** 2, eps, Normal(eps, 0, 1))


def test_annotations_and_wrappers_are_transparent():
    env = LatexEnv()
    e = P(r"\underbrace{\mathbb{E}_{q(z|x)}[\log p(x|z)]}_{\text{reconstruction}} - "
          r"\underbrace{D_{KL}(q(z|x) \| p(z))}_{\text{regularizer}}", env)
    assert e == P(r"\mathbb{E}_{q(z|x)}[\log p(x|z)] - D_{KL}(q(z|x) \| p(z))", env)
    assert P(r"\boxed{\mu + 1}") == mu + 1
    assert P(r"\textcolor{red}{\mu}^2") == mu ** 2
    assert P(r"\mathop{\mathbb{E}}_{z \sim q(z|x)}[z]") == Expectation(z, z, q_zx)
    assert P(r"{\mu + 1}^2") == (mu + 1) ** 2


def test_powers_of_function_values():
    e = P(r"\mathcal{N}(z; \mu_\phi(x), \sigma^2_\phi(x))")
    mu_phi, sigma_phi = sp.Function("mu_phi", real=True), sp.Function("sigma_phi", real=True)
    assert e == Normal(z, mu_phi(x), sigma_phi(x) ** 2)
    assert P(r"x^2(1-x)") == x ** 2 * (1 - x)
    assert P(r"g^2(z)") == sp.Function("g", real=True)(z) ** 2


def test_greek_letter_of_one_symbol_is_a_model_output():
    sig = sp.Function("sigma", real=True)
    assert P(r"\sigma(x)") == sig(x)
    assert P(r"\sigma^2(x)") == sig(x) ** 2
    assert P(r"\mu(1-\mu)") == mu * (1 - mu)
    assert P(r"\sigma(2)") == 2 * sigma


def test_old_style_font_switches():
    q = Density("q", (z,))
    assert P(r"D_{\rm KL}(q(z) \| p(z))") == P(r"D_\text{KL}(q(z) \| p(z))") == KL(q, p_z)
    assert P(r"{\cal N}(z; 0, 1)") == Normal(z, 0, 1)
    assert P(r"\int q(z) {\rm d}z") == sp.Integral(q, z)


def test_expectation_without_brackets_before_a_log():
    env = LatexEnv()
    e = P(r"\mathbb{E}_{q(z|x)} \log p(x|z) - D_{KL}(q(z|x) \| p(z))", env)
    assert e == Expectation(sp.log(p_xz), z, q_zx) - KL(q_zx, p_z)


def test_an_integral_over_a_range_is_not_read_as_one_over_the_whole_space():
    # the checker integrates over the whole space; \int_0^1 q(z) dz = 1 must not be proved
    with pytest.raises(InputError, match="over a range"):
        P(r"\int_0^1 q(z) dz")
    with pytest.raises(InputError, match="over a range"):
        P(r"\int_{0}^{\infty} q(z)\, dz")
    whole = P(r"\int q(z) dz")
    assert P(r"\int_{-\infty}^{\infty} q(z) dz") == whole
    assert P(r"\int_z q(z) dz") == whole


# -- how far an operator reaches ---------------------------------------------------
def test_a_sum_takes_the_terms_after_it_that_use_its_index():
    env = LatexEnv()
    e = P(r"\sum_{j=1}^{D} x_j \log \hat{x}_j - (1 - x_j) \log(1 - \hat{x}_j)", env)
    (s,) = e.atoms(sp.Sum) if isinstance(e, sp.Sum) else (None,)
    assert isinstance(e, sp.Sum) and s == e
    j = e.limits[0][0]
    assert j not in e.free_symbols
    assert any("taking the terms after it" in n for n in env.notes)
    # an index not used after the product leaves the sum where it was
    e2 = P(r"\sum_{j=1}^{D} x_j + y", LatexEnv())
    assert isinstance(e2, sp.Add) and any(isinstance(a, sp.Sum) for a in e2.args)


def test_log_wide_and_e_wide_are_readings_not_the_default():
    env = LatexEnv()
    for d in ("p(z)", "q(z)", "r(z)"):
        P(d, env)
    pz, qz, rz = (Density(n, (z,)) for n in "pqr")
    line = r"\log \frac{p(z)}{q(z)} \frac{q(z)}{r(z)}"
    assert P(line, env) == sp.log(pz / qz) * qz / rz
    env.switches = frozenset(["log-wide"])
    assert P(line, env) == sp.log(pz / rz)
    env.switches = frozenset(["e-wide"])
    assert P(r"\mathbb{E}_{q(z)} \log p(z) - \log q(z)", env) == Expectation(sp.log(pz) - sp.log(qz), z, qz)
    env.switches = frozenset()
    assert P(r"\mathbb{E}_{q(z)} \log p(z) - \log q(z)", env) == Expectation(sp.log(pz), z, qz) - sp.log(qz)


def test_log_wide_stops_before_the_differential_of_an_integral():
    env = LatexEnv()
    P("p(z)", env)
    P("q(z)", env)
    env.switches = frozenset(["log-wide"])
    pz, qz = Density("p", (z,)), Density("q", (z,))
    assert P(r"\int q(z) \log \frac{q(z)}{p(z)} 2 dz", env) == sp.Integral(qz * sp.log(2 * qz / pz), z)


def test_unbraced_font_and_accent_arguments():
    env = LatexEnv()
    P("q(z)", env)
    q = Density("q", (z,))
    assert P(r"\mathbb E_q[z]", env) == P(r"\mathbb{E}_{q}[z]", env) == Expectation(z, z, q)
    assert P(r"\hat\mu") == sp.Symbol("mu_hat", real=True)


def test_a_range_of_indices_is_never_read_as_one_variable():
    # under an expectation it is the draws z_1 .. z_K (tests/test_reading_draws.py); elsewhere it is refused
    t = P(r"\mathbb{E}_{z_{1:K} \sim q(z|x)}\left[\log p(x, z_1)\right]")
    assert isinstance(t, SampleExpectation) and "z_1K" not in str(t)
    with pytest.raises(InputError, match="several draws at once"):
        P(r"\log p(x, z_{1:K})")


def test_a_product_of_powers_around_a_bracket():
    a, xs = sp.Symbol("a", real=True), sp.Symbol("x", real=True)
    assert P(r"a^{x}(1 - a)^{1 - x}") == a ** xs * (1 - a) ** (1 - xs)


def test_a_coordinate_of_a_density_declared_a_product_is_its_factor():
    env = LatexEnv()
    j = sp.Symbol("j", integer=True)
    fam = P(r"\prod_{j=1}^{d} \mathcal{N}(z_j; \mu_j, \sigma_j^2)", env)
    env.context.families[Density("q", (z,), (x,))] = fam
    assert P(r"\log q(z_j|x)", env) == sp.log(fam.function)
    # another density of the same letter is not touched
    assert P(r"\log q(z_j)", env) == sp.log(Density("q", (fam.function.x,)))


def test_an_argument_fixed_to_a_value_is_refused_with_what_was_written():
    with pytest.raises(InputError, match=r"fixed to a value \('z=k'\)"):
        P(r"\log p(x, z=k)")
    # limits of a sum keep their '='
    assert isinstance(P(r"\sum_{k=1}^{K} w_k"), sp.Sum)


def test_an_unreadable_line_is_described_in_the_authors_own_latex():
    latex = r"\frac{1}{2}\left[ \log \sigma^2 + \mu ! \right]"
    with pytest.raises(InputError) as info:
        P(latex)
    err = info.value
    assert latex[err.column - 1] == "!"
    assert f"column {err.column}" in err.message and r"\mu ! \right]" in err.message


def test_a_letter_applied_to_a_density_of_the_text_is_a_functional_of_it():
    env = LatexEnv()
    P("r(z)", env)
    J = P("J(r)", env)
    assert J == sp.Symbol("J", real=True)
    assert P(r"\mathbb{E}_{r}[z]", env) == Expectation(z, z, Density("r", (z,)))


def test_a_density_written_without_the_parameter_it_carries_elsewhere_is_not_differentiated():
    """p_theta(x) in one place and p(x, z) in another: whether p(x, z) depends on theta is not said, so a
    derivative with respect to theta of it is refused rather than read either way."""
    env = LatexEnv(Context())
    P(r"\nabla_\theta \mathbb{E}_{p_\theta(x)}[f(x)]", env)
    with pytest.raises(InputError) as info:
        P(r"\mathbb{E}_{q_\theta(z)}[\nabla_\theta \log p(x, z) - \nabla_\theta \log q_\theta(z)]", env)
    assert "written without the theta" in info.value.message
    # the bare letter (E_q) stands for the density written with its parameter
    assert P(r"\nabla_\theta \mathbb{E}_{q}[f(z)]", env).has(sp.Derivative)
