"""The mathematics of every corpus derivation, as trusted Python evaluated on concrete models.

For each file: the model family its derivation lives in and its chains.  A chain is a list
of (line, relation, value) where value(model) computes, without reading any LaTeX, what the
expression written at that line of the file is worth; the first entry of a chain has relation
None (its head).  Relations: "=", "<=", ">=", and "~=" (a Monte Carlo estimate: equal in
expectation; value returns models.Estimate).  tests/test_corpus.py evaluates every chain on
several randomly drawn models and checks that a step fails exactly on the lines key.json lists
in bad_lines, so the key is verified by computation, not by anyone's reading of the text.

Conventions: a univariate model has vectors of length 1 (m.mu is N(mu, sigma^2)'s mean as a
1-vector; values that are 1-vectors count as their single entry).  Functions passed to
m.E_q & co. take samples z of shape (n, d).
"""
from __future__ import annotations

import numpy as np
from models import LOG2PI, draw_mixture, draw_model, log_normal, sigmoid  # noqa: F401

log = np.log
exp = np.exp
sqrt = np.sqrt
pi = np.pi


def c(z):
    """The single coordinate of univariate samples."""
    return z[..., 0]


def uni(seed):
    return draw_model(seed, d=1)


def diag2(seed):
    return draw_model(seed, d=2)


def diag3(seed):
    return draw_model(seed, d=3)


def npdf(z, m, s):
    """N(z; m, s^2), elementwise."""
    return exp(-0.5 * log(2 * pi * s ** 2) - (z - m) ** 2 / (2 * s ** 2))


def Spec(model, *chains):
    return {"model": model, "chains": [list(ch) for ch in chains]}


SPECS: dict[str, dict] = {}

# ---------------------------------------------------------------- Gaussian KL
KL_UNI = lambda m: m.kl_q_prior()  # noqa: E731
CLOSED_UNI = lambda m: 0.5 * (m.mu ** 2 + m.sigma ** 2 - log(m.sigma ** 2) - 1)  # noqa: E731

SPECS["kl_univariate_lecture.md"] = Spec(uni, [
    (7, None, KL_UNI),
    (7, "=", lambda m: m.E_q(lambda z: m.log_q(z) - m.log_prior(z))),
    (8, "=", lambda m: m.E_q(lambda z: -0.5 * log(2 * pi * m.sigma[0] ** 2) - (c(z) - m.mu[0]) ** 2 / (2 * m.sigma[0] ** 2)
                             + 0.5 * log(2 * pi) + c(z) ** 2 / 2)),
    (9, "=", lambda m: -0.5 * log(m.sigma ** 2) - 1 / (2 * m.sigma ** 2) * m.E_q(lambda z: (c(z) - m.mu[0]) ** 2)
     + 0.5 * m.E_q(lambda z: c(z) ** 2)),
    (10, "=", lambda m: -0.5 * log(m.sigma ** 2) - 0.5 + 0.5 * (m.mu ** 2 + m.sigma ** 2)),
    (11, "=", CLOSED_UNI),
])

SPECS["kl_univariate_half_dropped.md"] = Spec(uni, [
    (7, None, KL_UNI),
    (8, "=", lambda m: m.E_q(lambda z: m.log_q(z) - m.log_prior(z))),
    (9, "=", lambda m: m.E_q(lambda z: -log(m.sigma[0]) - (c(z) - m.mu[0]) ** 2 / (2 * m.sigma[0] ** 2) + c(z) ** 2 / 2)),
    (10, "=", lambda m: -log(m.sigma) - 0.5 + (m.mu ** 2 + m.sigma ** 2) / 2),
    (11, "=", lambda m: m.mu ** 2 + m.sigma ** 2 - log(m.sigma ** 2) - 1),
    (12, "=", lambda m: m.sigma ** 2 - log(m.sigma ** 2) - 1 + m.mu ** 2),
])

SPECS["kl_univariate_integral.md"] = Spec(uni, [
    (5, None, KL_UNI),
    (5, "=", lambda m: m.E_q(lambda z: log(m.q(z) / m.prior(z)))),
    (7, "=", lambda m: m.E_q(lambda z: log(1 / sqrt(2 * pi * m.sigma[0] ** 2)) - (c(z) - m.mu[0]) ** 2 / (2 * m.sigma[0] ** 2)
                             - log(1 / sqrt(2 * pi)) + c(z) ** 2 / 2)),
    (9, "=", lambda m: -log(m.sigma) - 1 / (2 * m.sigma ** 2) * m.E_q(lambda z: (c(z) - m.mu[0]) ** 2)
     + 0.5 * m.E_q(lambda z: c(z) ** 2)),
    (11, "=", lambda m: -log(m.sigma) - 0.5 + (m.sigma ** 2 + m.mu ** 2) / 2),
], [
    (13, None, lambda m: m.E_q(lambda z: (c(z) - m.mu[0]) ** 2)),
    (13, "=", lambda m: m.sigma ** 2),
], [
    (13, None, lambda m: m.E_q(lambda z: c(z) ** 2)),
    (13, "=", lambda m: m.sigma ** 2 + m.mu ** 2),
])

SPECS["kl_univariate_notebook.md"] = Spec(uni, [
    (5, None, KL_UNI),
    (5, "=", lambda m: m.E_q(lambda z: m.log_q(z) - m.log_prior(z))),
], [
    (9, None, lambda m: m.log_q(m.z0) - m.log_prior(m.z0)),
    (9, "=", lambda m: -log(m.sigma) - (m.z0 - m.mu) ** 2 / (2 * m.sigma ** 2) + m.z0 ** 2 / 2),
], [
    (11, None, lambda m: m.E_q(lambda z: m.log_q(z) - m.log_prior(z))),
    (11, "=", lambda m: -log(m.sigma) - 0.5 + 0.5 * (m.mu ** 2 + m.sigma ** 2)),
], [
    (13, None, KL_UNI),
    (13, "=", CLOSED_UNI),
])

SPECS["kl_diag_sum.md"] = Spec(diag3, [
    (7, None, lambda m: m.kl_q_prior()),
    (8, "=", lambda m: sum(m.with_(mu=m.mu[j:j + 1], sigma=m.sigma[j:j + 1], m0=m.m0[j:j + 1], s0=m.s0[j:j + 1],
                                   W=m.W[:, j:j + 1]).kl_q_prior() for j in range(m.d))),
    (9, "=", lambda m: sum(m.E_q(lambda z: log(npdf(z[:, j], m.mu[j], m.sigma[j])) - log(npdf(z[:, j], 0, 1)))
                           for j in range(m.d))),
    (10, "=", lambda m: np.sum(-log(m.sigma) - 0.5 + (m.mu ** 2 + m.sigma ** 2) / 2)),
    (11, "=", lambda m: 0.5 * np.sum(m.mu ** 2 + m.sigma ** 2 - log(m.sigma ** 2) - 1)),
])

SPECS["kl_diag_sign.md"] = Spec(diag3, [
    (7, None, lambda m: m.kl_q_prior()),
    (7, "=", lambda m: sum(m.E_q(lambda z: log(npdf(z[:, j], m.mu[j], m.sigma[j])) - log(npdf(z[:, j], 0, 1)))
                           for j in range(m.d))),
    (8, "=", lambda m: np.sum(-0.5 * log(m.sigma ** 2) - 0.5 + 0.5 * m.mu ** 2 + 0.5 * m.sigma ** 2)),
    (9, "=", lambda m: 0.5 * np.sum(m.mu ** 2 + m.sigma ** 2 + log(m.sigma ** 2) - 1)),
    (10, "=", lambda m: -0.5 * np.sum(1 - log(m.sigma ** 2) - m.mu ** 2 - m.sigma ** 2)),
])

KL_TWO = lambda m: m.E_q(lambda z: m.log_q(z) - m.log_q2(z))  # noqa: E731

SPECS["kl_two_gaussians.md"] = Spec(uni, [
    (5, None, KL_TWO),
    (5, "=", lambda m: m.E_q(lambda z: m.log_q(z) - m.log_q2(z))),
    (7, "=", lambda m: m.E_q(lambda z: log(m.sigma2[0] / m.sigma[0]) - (c(z) - m.mu[0]) ** 2 / (2 * m.sigma[0] ** 2)
                             + (c(z) - m.mu2[0]) ** 2 / (2 * m.sigma2[0] ** 2))),
    (9, "=", lambda m: log(m.sigma2 / m.sigma) - 0.5 + m.E_q(lambda z: (c(z) - m.mu2[0]) ** 2) / (2 * m.sigma2 ** 2)),
    (11, "=", lambda m: log(m.sigma2 / m.sigma) - 0.5 + (m.sigma ** 2 + (m.mu - m.mu2) ** 2) / (2 * m.sigma2 ** 2)),
])

SPECS["kl_two_gaussians_variance.md"] = Spec(uni, [
    (7, None, KL_TWO),
    (7, "=", lambda m: m.E_q(lambda z: log(m.q(z) / exp(m.log_q2(z))))),
    (8, "=", lambda m: m.E_q(lambda z: log(m.sigma2[0] / m.sigma[0]) - (c(z) - m.mu[0]) ** 2 / (2 * m.sigma[0] ** 2)
                             + (c(z) - m.mu2[0]) ** 2 / (2 * m.sigma2[0] ** 2))),
    (9, "=", lambda m: log(m.sigma2 / m.sigma) - 0.5 + (m.sigma + (m.mu - m.mu2) ** 2) / (2 * m.sigma2 ** 2)),
    (10, "=", lambda m: 0.5 * (log(m.sigma2 ** 2 / m.sigma ** 2) - 1 + (m.sigma + (m.mu - m.mu2) ** 2) / m.sigma2 ** 2)),
])

# q = N(m, s^2) is the model's (mu, sigma); p = N(mu, sigma^2) is its (mu2, sigma2)
SPECS["kl_two_gaussians_swapped.md"] = Spec(uni, [
    (5, None, KL_TWO),
    (5, "=", lambda m: m.E_q(lambda z: log(m.q(z) / exp(m.log_q2(z))))),
    (7, "=", lambda m: m.E_q2(lambda z: m.log_q2(z) - m.log_q(z))),
    (9, "=", lambda m: log(m.sigma / m.sigma2) - 0.5 + (m.sigma2 ** 2 + (m.mu2 - m.mu) ** 2) / (2 * m.sigma ** 2)),
    (11, "=", lambda m: 0.5 * (m.sigma2 ** 2 / m.sigma ** 2 + (m.mu - m.mu2) ** 2 / m.sigma ** 2 - 1
                               + log(m.sigma ** 2 / m.sigma2 ** 2))),
])

SPECS["kl_pdf_converted.md"] = Spec(uni, [
    (9, None, KL_UNI),
    (9, "=", lambda m: m.E_q(lambda z: m.log_q(z) - m.log_prior(z))),
    (9, "=", lambda m: m.E_q(lambda z: m.log_q(z) - m.log_prior(z))),
    (9, "=", lambda m: m.E_q(lambda z: -log(m.sigma[0]) - (c(z) - m.mu[0]) ** 2 / (2 * m.sigma[0] ** 2) + c(z) ** 2 / 2)),
    (9, "=", lambda m: -log(m.sigma) - 1 / (2 * m.sigma ** 2) * m.sigma ** 2 + 0.5 * (m.sigma ** 2 + m.mu ** 2)),
    (9, "=", lambda m: 0.5 * (m.sigma ** 2 + m.mu ** 2 - log(m.sigma ** 2) - 1)),
])

SPECS["kl_terse.md"] = Spec(uni, [
    (3, None, KL_UNI),
    (3, "=", lambda m: m.E_q(lambda z: m.log_q(z) - m.log_prior(z))),
    (3, "=", lambda m: -log(m.sigma) + 0.5 * m.E_q(lambda z: c(z) ** 2)
     - 1 / (2 * m.sigma ** 2) * m.E_q(lambda z: (c(z) - m.mu[0]) ** 2)),
    (3, "=", CLOSED_UNI),
])

SPECS["kl_dfrac_over.md"] = Spec(uni, [
    (6, None, KL_UNI),
    (6, "=", lambda m: m.E_q(lambda z: log(m.q(z) / m.prior(z)))),
    (7, "=", lambda m: m.E_q(lambda z: log(1 / m.sigma[0]) - (c(z) - m.mu[0]) ** 2 / (2 * m.sigma[0] ** 2) + c(z) ** 2 / 2)),
    (8, "=", lambda m: log(1 / m.sigma) - 0.5 + (m.mu ** 2 + m.sigma ** 2) / 2),
])

SPECS["kl_diag_vector_notation.md"] = Spec(diag3, [
    (7, None, lambda m: m.kl_q_prior()),
    (8, "=", lambda m: m.E_q(m.log_q) - m.E_q(m.log_prior)),
    (9, "=", lambda m: -m.d / 2 * LOG2PI - np.sum(log(m.sigma)) - m.d / 2 + m.d / 2 * LOG2PI
     + 0.5 * m.E_q(lambda z: np.sum(z ** 2, axis=-1))),
    (10, "=", lambda m: -np.sum(log(m.sigma)) - m.d / 2 + 0.5 * (np.sum(m.mu ** 2) + np.sum(m.sigma ** 2))),
    (11, "=", lambda m: 0.5 * (np.sum(m.mu ** 2) + np.sum(m.sigma ** 2) - np.sum(log(m.sigma ** 2)) - m.d)),
])

SPECS["kl_product_of_factors.md"] = Spec(diag2, [
    (6, None, lambda m: m.kl_q_prior()),
    (6, "=", lambda m: m.E_q(lambda z: log(np.prod(npdf(z, m.mu, m.sigma), axis=-1))
                             - log(np.prod(npdf(z, 0, 1), axis=-1)))),
    (7, "=", lambda m: m.E_q(lambda z: np.sum(log(npdf(z, m.mu, m.sigma)) - log(npdf(z, 0, 1)), axis=-1))),
    (8, "=", lambda m: sum(m.E_q(lambda z: log(npdf(z[:, i], m.mu[i], m.sigma[i])) - log(npdf(z[:, i], 0, 1)))
                           for i in range(m.d))),
    (9, "=", lambda m: np.sum(0.5 * (m.mu ** 2 + m.sigma ** 2 - log(m.sigma ** 2) - 1))),
])

SPECS["kl_standard_normal_wrong_var.md"] = Spec(uni, [
    (7, None, KL_UNI),
    (7, "=", lambda m: m.E_q(m.log_q) - m.E_q(m.log_prior)),
    (8, "=", lambda m: (-0.5 * log(2 * pi * m.sigma ** 2) - 0.5) - (-0.5 * LOG2PI - 0.5 * m.E_q(lambda z: c(z) ** 2))),
    (9, "=", lambda m: -0.5 * log(m.sigma ** 2) - 0.5 + 0.5 * (m.mu ** 2 + m.sigma)),
    (10, "=", lambda m: 0.5 * (m.mu ** 2 + m.sigma - log(m.sigma ** 2) - 1)),
])

# ---------------------------------------------------------------- entropy
SPECS["entropy_gaussian_univariate.md"] = Spec(uni, [
    (7, None, lambda m: -m.E_q(m.log_q)),
    (7, "=", lambda m: -m.E_q(lambda z: log(m.q(z)))),
    (8, "=", lambda m: -m.E_q(lambda z: -0.5 * log(2 * pi * m.sigma[0] ** 2) - (c(z) - m.mu[0]) ** 2 / (2 * m.sigma[0] ** 2))),
    (9, "=", lambda m: 0.5 * log(2 * pi * m.sigma ** 2) + 1 / (2 * m.sigma ** 2) * m.E_q(lambda z: (c(z) - m.mu[0]) ** 2)),
    (10, "=", lambda m: 0.5 * log(2 * pi * m.sigma ** 2) + 0.5),
    (11, "=", lambda m: 0.5 * log(2 * pi * np.e * m.sigma ** 2)),
])

SPECS["entropy_gaussian_diag.md"] = Spec(diag2, [
    (5, None, lambda m: -m.E_q(m.log_q)),
    (5, "=", lambda m: m.E_q(lambda z: -m.log_q(z))),
    (7, "=", lambda m: m.E_q(lambda z: np.sum(0.5 * log(2 * pi * m.sigma ** 2) + (z - m.mu) ** 2 / (2 * m.sigma ** 2), axis=-1))),
    (9, "=", lambda m: np.sum(0.5 * log(2 * pi * m.sigma ** 2) + 0.5)),
    (11, "=", lambda m: m.d / 2 * log(2 * pi * np.e) + np.sum(log(m.sigma))),
])

SPECS["entropy_missing_half.md"] = Spec(uni, [
    (3, None, lambda m: m.log_q(m.z0)),
    (3, "=", lambda m: -0.5 * log(2 * pi * m.sigma ** 2) - (m.z0 - m.mu) ** 2 / (2 * m.sigma ** 2)),
], [
    (7, None, lambda m: -m.E_q(m.log_q)),
    (7, "=", lambda m: -m.E_q(m.log_q)),
    (8, "=", lambda m: 0.5 * log(2 * pi * m.sigma ** 2) + 1 / (2 * m.sigma ** 2) * m.E_q(lambda z: (c(z) - m.mu[0]) ** 2)),
    (9, "=", lambda m: 0.5 * log(2 * pi * m.sigma ** 2) + 1),
    (10, "=", lambda m: 0.5 * log(2 * pi * m.sigma ** 2) + log(np.e)),
])

# ---------------------------------------------------------------- ELBO decomposition
LOGPX = lambda m: m.log_evidence()  # noqa: E731
ELBO = lambda m: m.elbo()  # noqa: E731
KL_POST = lambda m: m.kl_q_post()  # noqa: E731

SPECS["elbo_decomp_lecture.md"] = Spec(uni, [
    (7, None, LOGPX),
    (7, "=", lambda m: m.E_q(lambda z: np.full(len(z), m.log_evidence()))),
    (8, "=", lambda m: m.E_q(lambda z: log(m.joint(z) / m.post(z)))),
    (9, "=", lambda m: m.E_q(lambda z: log(m.joint(z) / m.q(z) * m.q(z) / m.post(z)))),
    (10, "=", lambda m: m.E_q(lambda z: log(m.joint(z) / m.q(z))) + m.E_q(lambda z: log(m.q(z) / m.post(z)))),
    (11, "=", lambda m: m.elbo() + m.kl_q_post()),
], [
    (15, None, ELBO),
    (15, "<=", LOGPX),
])

SPECS["elbo_decomp_sign.md"] = Spec(uni, [
    (5, None, LOGPX),
    (5, "=", lambda m: m.E_q(lambda z: m.log_joint(z) - m.log_post(z))),
    (6, "=", lambda m: m.E_q(lambda z: m.log_joint(z) - m.log_q(z) + m.log_q(z) - m.log_post(z))),
    (7, "=", lambda m: m.E_q(lambda z: m.log_joint(z) - m.log_q(z)) - m.E_q(lambda z: m.log_q(z) - m.log_post(z))),
    (8, "=", lambda m: m.elbo() - m.kl_q_post()),
])

SPECS["elbo_decomp_bayes_swap.md"] = Spec(uni, [
    (5, None, lambda m: m.post(m.z0)),
    (5, "=", lambda m: m.post(m.z0) * m.prior(m.z0) / m.evidence()),
], [
    (9, None, LOGPX),
    (9, "=", lambda m: m.E_q(lambda z: np.full(len(z), m.log_evidence()))),
    (9, "=", lambda m: m.E_q(lambda z: m.log_lik(z) + m.log_prior(z) - m.log_post(z))),
    (11, "=", lambda m: m.E_q(lambda z: m.log_lik(z) + m.log_prior(z) - m.log_q(z)) + m.E_q(lambda z: m.log_q(z) - m.log_post(z))),
    (13, "=", lambda m: m.E_q(lambda z: m.log_lik(z) + m.log_prior(z) - m.log_q(z)) + m.kl_q_post()),
])

SPECS["elbo_recon_minus_kl.md"] = Spec(uni, [
    (7, None, ELBO),
    (7, "=", lambda m: m.E_q(lambda z: m.log_lik(z) + m.log_prior(z) - m.log_q(z))),
    (8, "=", lambda m: m.E_q(m.log_lik) - m.E_q(lambda z: m.log_q(z) - m.log_prior(z))),
    (9, "=", lambda m: m.E_q(m.log_lik) - m.kl_q_prior()),
])

SPECS["elbo_recon_kl_swapped.md"] = Spec(uni, [
    (3, None, ELBO),
    (3, "=", lambda m: m.E_q(lambda z: m.log_lik(z) + m.log_prior(z) - m.log_q(z))),
    (5, "=", lambda m: m.E_q(m.log_lik) + m.E_q(lambda z: m.log_prior(z) - m.log_q(z))),
    (7, "=", lambda m: m.E_q(m.log_lik) - m.E_prior(lambda z: m.log_prior(z) - m.log_q(z))),
    (9, "=", lambda m: m.E_q(m.log_lik) - m.E_prior(lambda z: m.log_prior(z) - m.log_q(z))),
])

ENTROPY = lambda m: -m.E_q(m.log_q)  # noqa: E731

SPECS["elbo_angle_brackets.md"] = Spec(uni, [
    (5, None, LOGPX),
    (5, "=", lambda m: m.E_q(lambda z: np.full(len(z), m.log_evidence()))),
    (6, "=", lambda m: m.E_q(lambda z: m.log_joint(z) - m.log_post(z))),
    (7, "=", lambda m: m.E_q(lambda z: m.log_joint(z) - m.log_q(z)) + m.E_q(lambda z: m.log_q(z) - m.log_post(z))),
    (8, "=", lambda m: m.E_q(m.log_joint) + ENTROPY(m) + m.kl_q_post()),
    (9, ">=", lambda m: m.E_q(m.log_joint) + ENTROPY(m)),
], [
    (13, None, ENTROPY),
    (13, "=", lambda m: -m.E_q(m.log_q)),
])

SPECS["elbo_pdf_oneline.md"] = Spec(uni, [
    (9, None, LOGPX),
    (9, "=", lambda m: m.E_q(lambda z: np.full(len(z), m.log_evidence()))),
    (9, "=", lambda m: m.E_q(lambda z: m.log_joint(z) - m.log_post(z))),
    (9, "=", lambda m: m.E_q(lambda z: m.log_joint(z) - m.log_q(z)) + m.E_q(lambda z: m.log_q(z) - m.log_post(z))),
    (9, "=", lambda m: m.elbo() + m.kl_q_post()),
], [
    (11, None, ELBO),
    (11, "<=", LOGPX),
])

SPECS["elbo_notebook_g_theta.md"] = Spec(uni, [
    (6, None, LOGPX),
    (6, "=", lambda m: log(m.E_prior(m.lik))),
    (6, "=", lambda m: log(m.E_q(lambda z: m.lik(z) * m.prior(z) / m.q(z)))),
    (10, ">=", lambda m: m.E_q(lambda z: log(m.lik(z) * m.prior(z) / m.q(z)))),
    (14, "=", lambda m: m.E_q(m.log_lik) - m.E_q(lambda z: log(m.q(z) / m.prior(z)))),
])

SPECS["elbo_Log_capital.md"] = Spec(uni, [
    (4, None, LOGPX),
    (4, "=", lambda m: m.E_q(lambda z: np.full(len(z), m.log_evidence()))),
], [
    (8, None, LOGPX),
    (8, "=", lambda m: m.E_q(lambda z: log(m.lik(z) * m.prior(z) / m.post(z) * m.q(z) / m.q(z)))),
], [
    (12, None, LOGPX),
    (12, "=", lambda m: m.E_q(m.log_lik) + m.E_q(lambda z: log(m.prior(z) / m.q(z))) + m.E_q(lambda z: log(m.q(z) / m.post(z)))),
], [
    (16, None, LOGPX),
    (16, "=", lambda m: m.E_q(m.log_lik) - m.kl_q_prior() + m.kl_q_post()),
])

SPECS["elbo_verbose_prose.md"] = Spec(uni, [
    (10, None, LOGPX),
    (10, "=", lambda m: m.E_q(lambda z: np.full(len(z), m.log_evidence()))),
], [
    (12, None, lambda m: m.evidence()),
    (12, "=", lambda m: m.lik(m.z0) * m.prior(m.z0) / m.post(m.z0)),
], [
    (14, None, lambda m: m.E_q(lambda z: np.full(len(z), m.log_evidence()))),
    (14, "=", lambda m: m.E_q(lambda z: log(m.lik(z) * m.prior(z) / m.q(z))) + m.E_q(lambda z: log(m.q(z) / m.post(z)))),
], [
    (18, None, LOGPX),
    (18, "=", lambda m: m.elbo() + m.kl_q_post()),
    (18, ">=", ELBO),
])

SPECS["elbo_superscript_i.md"] = Spec(uni, [
    (3, None, ELBO),
    (3, "=", lambda m: m.E_q(m.log_lik) - m.kl_q_prior()),
    (5, "=", lambda m: m.E_q(lambda z: m.log_lik(z) + m.log_prior(z) - m.log_q(z))),
    (7, "=", lambda m: m.E_q(lambda z: m.log_joint(z) - m.log_q(z))),
    (9, "=", lambda m: m.log_evidence() - m.kl_q_post()),
    (11, "<=", LOGPX),
])

SPECS["elbo_decomp_missing_log.md"] = Spec(uni, [
    (3, None, ELBO),
    (3, "=", lambda m: m.E_q(lambda z: m.log_joint(z) - m.log_q(z))),
    (5, "=", lambda m: m.E_q(lambda z: m.log_lik(z) + m.log_prior(z) - m.log_q(z))),
    (7, "=", lambda m: m.E_q(m.lik) + m.E_q(lambda z: m.log_prior(z) - m.log_q(z))),
    (9, "=", lambda m: m.E_q(m.lik) - m.kl_q_prior()),
])

SPECS["elbo_recon_posterior_for_likelihood.md"] = Spec(uni, [
    (7, None, ELBO),
    (7, "=", lambda m: m.E_q(lambda z: m.log_joint(z) - m.log_q(z))),
    (8, "=", lambda m: m.E_q(lambda z: m.log_post(z) + m.log_prior(z) - m.log_q(z))),
    (9, "=", lambda m: m.E_q(m.log_post) - m.E_q(lambda z: m.log_q(z) - m.log_prior(z))),
    (10, "=", lambda m: m.E_q(m.log_post) - m.kl_q_prior()),
])

# ---------------------------------------------------------------- Jensen
RATIO = lambda m: (lambda z: m.lik(z) * m.prior(z) / m.q(z))  # noqa: E731

SPECS["jensen_lecture.md"] = Spec(uni, [
    (7, None, LOGPX),
    (7, "=", lambda m: log(m.E_prior(m.lik))),
    (8, "=", lambda m: log(m.E_q(lambda z: m.joint(z) / m.q(z)))),
    (9, "=", lambda m: log(m.E_q(lambda z: m.joint(z) / m.q(z)))),
    (10, ">=", lambda m: m.E_q(lambda z: log(m.joint(z) / m.q(z)))),
])

SPECS["jensen_reversed.md"] = Spec(uni, [
    (3, None, LOGPX),
    (3, "=", lambda m: log(m.E_q(RATIO(m)))),
    (5, "<=", lambda m: m.E_q(lambda z: log(RATIO(m)(z)))),
    (7, "=", lambda m: m.E_q(m.log_lik) - m.kl_q_prior()),
])

SPECS["jensen_loose_geq.md"] = Spec(uni, [
    (3, None, LOGPX),
    (3, ">=", lambda m: log(m.E_q(RATIO(m)))),
    (3, ">=", lambda m: m.E_q(lambda z: log(RATIO(m)(z)))),
], [
    (7, None, lambda m: m.E_q(lambda z: log(RATIO(m)(z)))),
    (7, "=", lambda m: m.E_q(m.log_lik) - m.E_q(lambda z: log(m.q(z) / m.prior(z)))),
])

SPECS["jensen_ln_over.md"] = Spec(uni, [
    (3, None, LOGPX),
    (3, "=", lambda m: log(m.E_prior(m.lik))),
    (5, "=", lambda m: log(m.E_q(RATIO(m)))),
    (7, ">=", lambda m: m.E_q(lambda z: log(RATIO(m)(z)))),
    (9, "=", lambda m: m.E_q(m.log_lik) + m.E_q(lambda z: log(m.prior(z) / m.q(z)))),
])

# ---------------------------------------------------------------- reparameterization (f(z) = z^2)
EZ2 = lambda mm: mm.E_q(lambda z: c(z) ** 2)  # noqa: E731
EPS_Z2 = lambda mm: mm.E_eps(lambda e: (mm.mu[0] + mm.sigma[0] * c(e)) ** 2)  # noqa: E731

SPECS["reparam_gradient_mu.md"] = Spec(uni, [
    (7, None, lambda m: m.grad(EZ2, "mu")),
    (7, "=", lambda m: m.grad(EPS_Z2, "mu")),
    (8, "=", lambda m: m.E_eps(lambda e: m.grad(lambda mm: (mm.mu[0] + mm.sigma[0] * c(e)) ** 2, "mu"))),
    (9, "=", lambda m: m.E_eps(lambda e: 2 * (m.mu[0] + m.sigma[0] * c(e)))),
    (10, "=", lambda m: 2 * m.mu),
], [
    (16, None, lambda m: m.grad(EZ2, "sigma")),
    (16, "=", lambda m: m.E_eps(lambda e: 2 * (m.mu[0] + m.sigma[0] * c(e)) * c(e))),
    (16, "=", lambda m: 2 * m.sigma),
])

SPECS["reparam_sigma_wrong.md"] = Spec(uni, [
    (5, None, lambda m: m.grad(EZ2, "sigma")),
    (5, "=", lambda m: m.grad(EPS_Z2, "sigma")),
    (7, "=", lambda m: m.E_eps(lambda e: 2 * (m.mu[0] + m.sigma[0] * c(e)))),
    (9, "=", lambda m: 2 * m.mu + 2 * m.sigma * m.E_eps(c)),
    (11, "=", lambda m: 2 * m.mu),
])

SPECS["reparam_kl_gradients.md"] = Spec(uni, [
    (5, None, KL_UNI),
    (5, "=", lambda m: m.E_eps(lambda e: m.log_q(m.mu + m.sigma * e) - m.log_prior(m.mu + m.sigma * e))),
    (5, "=", lambda m: m.E_eps(lambda e: -log(m.sigma[0]) - c(e) ** 2 / 2 + (m.mu[0] + m.sigma[0] * c(e)) ** 2 / 2)),
], [
    (7, None, lambda m: m.grad(KL_UNI, "mu")),
    (7, "=", lambda m: m.E_eps(lambda e: m.mu[0] + m.sigma[0] * c(e))),
    (7, "=", lambda m: m.mu),
], [
    (9, None, lambda m: m.grad(KL_UNI, "sigma")),
    (9, "=", lambda m: m.E_eps(lambda e: -1 / m.sigma[0] + c(e) * (m.mu[0] + m.sigma[0] * c(e)))),
    (9, "=", lambda m: -1 / m.sigma + m.sigma),
])

SPECS["reparam_moments.md"] = Spec(uni, [
    (7, None, lambda m: m.E_q(c)),
    (7, "=", lambda m: m.E_eps(lambda e: m.mu[0] + m.sigma[0] * c(e))),
    (8, "=", lambda m: m.mu + m.sigma * m.E_eps(c)),
    (9, "=", lambda m: m.mu),
], [
    (15, None, lambda m: m.E_q(lambda z: (c(z) - m.E_q(c)) ** 2)),
    (15, "=", lambda m: m.E_q(lambda z: (c(z) - m.mu[0]) ** 2)),
    (16, "=", lambda m: m.E_eps(lambda e: m.sigma[0] ** 2 * c(e) ** 2)),
    (17, "=", lambda m: m.sigma ** 2 * m.E_eps(lambda e: c(e) ** 2)),
    (18, "=", lambda m: m.sigma ** 2),
])

VAR_EPS = lambda m, g: m.E_eps(lambda e: g(e) ** 2) - m.E_eps(g) ** 2  # noqa: E731

SPECS["reparam_variance_wrong.md"] = Spec(uni, [
    (5, None, lambda m: VAR_EPS(m, lambda e: m.mu[0] + m.sigma[0] * c(e))),
    (5, "=", lambda m: VAR_EPS(m, lambda e: m.mu[0] + m.sigma[0] * c(e))),
    (6, "=", lambda m: VAR_EPS(m, lambda e: m.sigma[0] * c(e))),
    (7, "=", lambda m: m.sigma * VAR_EPS(m, c)),
    (8, "=", lambda m: m.sigma),
])

# ---------------------------------------------------------------- score function (f(z) = z^2)
def score_mu(m, z):
    """d/dmu of q(z), divided by q(z), by central differences of the density itself."""
    return m.grad(lambda mm: mm.q(z), "mu") / m.q(z)


SPECS["score_function_identity.md"] = Spec(uni, [
    (3, None, lambda m: m.grad(lambda mm: mm.log_q(m.z0), "mu")),
    (3, "=", lambda m: (m.z0 - m.mu) / m.sigma ** 2),
], [
    (5, None, lambda m: m.E_q(lambda z: score_mu(m, z))),
    (5, "=", lambda m: m.E_q(lambda z: (c(z) - m.mu[0]) / m.sigma[0] ** 2)),
    (5, "=", lambda m: 0.0),
], [
    (11, None, lambda m: m.grad(EZ2, "mu")),
    (11, "=", lambda m: m.E_q(lambda z: score_mu(m, z) * c(z) ** 2)),
    (12, "=", lambda m: m.E_q(lambda z: m.grad(lambda mm: mm.log_q(z), "mu") * c(z) ** 2)),
    (13, "=", lambda m: m.E_q(lambda z: c(z) ** 2 * (c(z) - m.mu[0]) / m.sigma[0] ** 2)),
    (14, "=", lambda m: 2 * m.mu),
])

SPECS["score_function_qmu_sign.md"] = Spec(uni, [
    (3, None, lambda m: m.grad(lambda mm: mm.log_q(m.z0), "mu")),
    (3, "=", lambda m: (m.mu - m.z0) / m.sigma ** 2),
], [
    (5, None, lambda m: m.E_q(lambda z: score_mu(m, z))),
    (5, "=", lambda m: m.E_q(lambda z: (c(z) - m.mu[0]) / m.sigma[0] ** 2)),
    (5, "=", lambda m: 0.0),
], [
    (11, None, lambda m: m.grad(EZ2, "mu")),
    (11, "=", lambda m: m.E_q(lambda z: score_mu(m, z) * c(z) ** 2)),
    (12, "=", lambda m: m.E_q(lambda z: m.grad(lambda mm: mm.log_q(z), "mu") * c(z) ** 2)),
    (13, "=", lambda m: m.E_q(lambda z: c(z) ** 2 * (c(z) - m.mu[0]) / m.sigma[0] ** 2)),
    (14, "=", lambda m: 2 * m.mu),
])

SPECS["score_function_log_missing.md"] = Spec(uni, [
    (5, None, lambda m: m.grad(EZ2, "mu")),
    (5, "=", lambda m: m.E_q(lambda z: score_mu(m, z) * c(z) ** 2)),
    (7, "=", lambda m: m.E_q(lambda z: m.grad(lambda mm: mm.q(z), "mu") * c(z) ** 2)),
    (9, "=", lambda m: m.E_q(lambda z: m.q(z) * (c(z) - m.mu[0]) / m.sigma[0] ** 2 * c(z) ** 2)),
])

SPECS["score_function_notebook.md"] = Spec(uni, [
    (3, None, lambda m: m.grad(EZ2, "mu")),
    (3, "=", lambda m: m.E_q(lambda z: c(z) ** 2 * m.grad(lambda mm: mm.log_q(z), "mu"))),
    (5, "~=", lambda m: m.estimate(lambda s: np.mean(s[..., 0] ** 2 * (s[..., 0] - m.mu[0]) / m.sigma[0] ** 2, axis=1), m.L)),
])

# ---------------------------------------------------------------- Monte Carlo estimators
SPECS["mc_estimator_lecture.md"] = Spec(uni, [
    (6, None, lambda m: m.E_q(m.log_lik)),
    (6, "~=", lambda m: m.estimate(lambda s: np.mean(m.log_lik(s), axis=1), m.L)),
])

SPECS["mc_missing_average.md"] = Spec(uni, [
    (3, None, lambda m: m.E_q(m.log_lik)),
    (3, "~=", lambda m: m.estimate(lambda s: np.sum(m.log_lik(s), axis=1), m.L)),
    (5, "=", lambda m: m.estimate(lambda s: m.L * np.mean(m.log_lik(s), axis=1), m.L)),
])

SPECS["mc_reparam_estimator.md"] = Spec(diag2, [
    (5, None, lambda m: m.E_q(m.log_lik)),
    (5, "=", lambda m: m.E_eps(lambda e: m.log_lik(m.mu + m.sigma * e))),
    (5, "~=", lambda m: m.estimate(lambda e: np.mean(m.log_lik(m.mu + m.sigma * e), axis=1), m.L, source="eps")),
])

SPECS["mc_elbo_estimator.md"] = Spec(uni, [
    (3, None, ELBO),
    (3, "=", lambda m: m.E_q(lambda z: m.log_joint(z) - m.log_q(z))),
    (3, "~=", lambda m: m.estimate(lambda s: np.mean(m.log_joint(s) - m.log_q(s), axis=1), m.L)),
], [
    (5, None, lambda m: m.estimate(lambda s: np.mean(m.log_joint(s) - m.log_q(s), axis=1), m.L)),
    (5, "=", lambda m: m.estimate(lambda s: np.mean(m.log_lik(s) + m.log_prior(s) - m.log_q(s), axis=1), m.L)),
])

# ---------------------------------------------------------------- decoders (pointwise at z0)
def bern(seed):
    return draw_model(seed, d=1, D=4, decoder="bern")


def unit_var(seed):
    return draw_model(seed, d=1, D=3).with_(sx=1.0)


P0 = lambda m: m.dec_mean(m.z0)  # noqa: E731  decoder output at z0

SPECS["bernoulli_decoder.md"] = Spec(bern, [
    (7, None, lambda m: m.log_lik(m.z0)),
    (7, "=", lambda m: log(np.prod(P0(m) ** m.x * (1 - P0(m)) ** (1 - m.x)))),
    (8, "=", lambda m: np.sum(log(P0(m) ** m.x * (1 - P0(m)) ** (1 - m.x)))),
    (9, "=", lambda m: np.sum(m.x * log(P0(m)) + (1 - m.x) * log(1 - P0(m)))),
])

SPECS["bernoulli_decoder_sign.md"] = Spec(bern, [
    (3, None, lambda m: m.log_lik(m.z0)),
    (3, "=", lambda m: np.sum(log(P0(m) ** m.x * (1 - P0(m)) ** (1 - m.x)))),
    (5, "=", lambda m: np.sum(m.x * log(P0(m)) - (1 - m.x) * log(1 - P0(m)))),
    (7, "=", lambda m: np.sum(m.x * log(P0(m)) - (1 - m.x) * log(1 - P0(m)))),
])

SPECS["bernoulli_cross_entropy.md"] = Spec(bern, [
    (5, None, lambda m: m.E_q(m.log_lik)),
    (5, "=", lambda m: m.E_q(lambda z: np.sum(m.x * log(m.dec_mean(z)) + (1 - m.x) * log(1 - m.dec_mean(z)), axis=-1))),
    (7, "~=", lambda m: m.estimate(lambda s: np.mean(np.sum(m.x * log(m.dec_mean(s)) + (1 - m.x) * log(1 - m.dec_mean(s)),
                                                            axis=-1), axis=1), m.L)),
])

MU0 = lambda m: m.dec_mean(m.z0)  # noqa: E731

SPECS["gaussian_decoder_lecture.md"] = Spec(uni, [
    (7, None, lambda m: m.log_lik(m.z0)),
    (7, "=", lambda m: np.sum(log(npdf(m.x, MU0(m), m.sx)))),
    (8, "=", lambda m: np.sum(-0.5 * log(2 * pi * m.sx ** 2) - (m.x - MU0(m)) ** 2 / (2 * m.sx ** 2))),
    (9, "=", lambda m: -m.D / 2 * log(2 * pi * m.sx ** 2) - 1 / (2 * m.sx ** 2) * np.sum((m.x - MU0(m)) ** 2)),
])

SPECS["gaussian_decoder_own_names.md"] = Spec(uni, [
    (7, None, lambda m: m.log_lik(m.z0)),
    (7, "=", lambda m: np.sum(log(npdf(m.x, MU0(m), m.sx)))),
    (8, "=", lambda m: np.sum(-0.5 * log(2 * pi * m.sx ** 2) - (m.x - MU0(m)) ** 2 / (2 * m.sx ** 2))),
    (9, "=", lambda m: -m.D / 2 * log(2 * pi * m.sx ** 2) - 1 / (2 * m.sx ** 2) * np.sum((m.x - MU0(m)) ** 2)),
    (10, "=", lambda m: -m.D / 2 * log(2 * pi) - m.D * log(m.sx) - np.sum((m.x - MU0(m)) ** 2) / (2 * m.sx ** 2)),
])

SPECS["gaussian_decoder_half.md"] = Spec(uni, [
    (5, None, lambda m: m.log_lik(m.z0)),
    (5, "=", lambda m: log(np.prod(1 / sqrt(2 * pi * m.sx ** 2) * exp(-(m.x - MU0(m)) ** 2 / (2 * m.sx ** 2))))),
    (6, "=", lambda m: -m.D / 2 * log(2 * pi * m.sx ** 2) - 1 / m.sx ** 2 * np.sum((m.x - MU0(m)) ** 2)),
    (7, "=", lambda m: -m.D / 2 * log(2 * pi * m.sx ** 2) - np.sum((m.x - MU0(m)) ** 2) / m.sx ** 2),
])

SPECS["gaussian_decoder_unit_var.md"] = Spec(unit_var, [
    (4, None, lambda m: m.log_lik(m.z0)),
    (5, "=", lambda m: np.sum(log(npdf(m.x, MU0(m), 1.0)))),
    (6, "=", lambda m: np.sum(log(1 / sqrt(2 * pi) * exp(-(m.x - MU0(m)) ** 2 / 2)))),
    (7, "=", lambda m: -m.D / 2 * log(2 * pi) - 0.5 * np.sum((m.x - MU0(m)) ** 2)),
])

# ---------------------------------------------------------------- IWAE
from models import Estimate  # noqa: E402


def log_est(e):
    """log of an estimated expectation (delta method for the standard error)."""
    return Estimate(float(log(e.mean)), e.se / e.mean)


def shifted(e, c):
    """An estimate plus a constant."""
    return Estimate(float(e.mean + c), e.se)


def iwae(m, K, replicates=100000):
    """E over z_1..z_K ~ q of log (1/K) sum_k p(x, z_k)/q(z_k)."""
    return m.estimate(lambda s: log(np.mean(exp(m.log_joint(s) - m.log_q(s)), axis=1)), K, replicates)


def avg_weight(m, K, replicates=100000):
    """E over z_1..z_K ~ q of (1/K) sum_k p(x, z_k)/q(z_k)."""
    return m.estimate(lambda s: np.mean(exp(m.log_joint(s) - m.log_q(s)), axis=1), K, replicates)


SPECS["iwae_bound.md"] = Spec(uni, [
    (3, None, lambda m: m.E_q(lambda z: m.joint(z) / m.q(z))),
    (3, "=", lambda m: m.evidence()),
], [
    (5, None, LOGPX),
    (5, "=", lambda m: log_est(avg_weight(m, m.K))),
    (5, ">=", lambda m: iwae(m, m.K)),
    (5, "=", lambda m: iwae(m, m.K)),
], [
    (7, None, lambda m: iwae(m, m.K)),
    (7, ">=", lambda m: iwae(m, 1)),
    (7, "=", lambda m: m.E_q(lambda z: log(m.joint(z) / m.q(z)))),
])

SPECS["iwae_reversed.md"] = Spec(uni, [
    (3, None, lambda m: iwae(m, m.K)),
    (3, "=", lambda m: iwae(m, m.K)),
    (5, ">=", lambda m: log_est(avg_weight(m, m.K))),
    (7, "=", LOGPX),
])

SPECS["iwae_weights_defined.md"] = Spec(uni, [
    (3, None, lambda m: m.E_q(lambda z: m.joint(z) / m.q(z))),
    (3, "=", lambda m: m.E_q(lambda z: m.joint(z) / m.q(z))),
    (3, "=", lambda m: m.evidence()),
], [
    (5, None, LOGPX),
    (5, "=", lambda m: log_est(avg_weight(m, m.K))),
    (7, ">=", lambda m: iwae(m, m.K)),
])

SPECS["iwae_weights_missing_mean.md"] = Spec(uni, [
    (3, None, lambda m: m.E_q(lambda z: m.joint(z) / m.q(z))),
    (3, "=", lambda m: m.E_q(lambda z: m.joint(z) / m.q(z))),
    (3, "=", lambda m: m.evidence()),
], [
    (5, None, LOGPX),
    (5, "=", lambda m: shifted(log_est(avg_weight(m, m.K)), log(m.K))),
    (7, "=", lambda m: shifted(log_est(avg_weight(m, m.K)), log(m.K))),
])

SPECS["iwae_k1_elbo.md"] = Spec(uni, [
    (3, None, lambda m: iwae(m, 1)),
    (3, "=", lambda m: m.E_q(lambda z: log(m.joint(z) / m.q(z)))),
    (3, "=", lambda m: m.E_q(m.log_lik) - m.kl_q_prior()),
])

# ---------------------------------------------------------------- beta-VAE (beta >= 1 drawn)
RECON = lambda m: m.E_q(m.log_lik)  # noqa: E731

SPECS["beta_vae_bound.md"] = Spec(uni, [
    (7, None, lambda m: RECON(m) - m.beta * m.kl_q_prior()),
    (7, "=", lambda m: RECON(m) - m.beta * m.kl_q_prior()),
    (8, "=", lambda m: RECON(m) - m.kl_q_prior() - (m.beta - 1) * m.kl_q_prior()),
    (9, "<=", lambda m: RECON(m) - m.kl_q_prior()),
    (10, "<=", LOGPX),
])

SPECS["beta_vae_direction.md"] = Spec(uni, [
    (3, None, lambda m: RECON(m) - m.beta * m.kl_q_prior()),
    (3, "=", lambda m: RECON(m) - m.beta * m.kl_q_prior()),
    (5, "=", lambda m: (RECON(m) - m.kl_q_prior()) - (m.beta - 1) * m.kl_q_prior()),
    (7, ">=", lambda m: RECON(m) - m.kl_q_prior()),
])

SPECS["beta_vae_closed_form.md"] = Spec(diag2, [
    (3, None, lambda m: RECON(m) - m.beta * m.kl_q_prior()),
    (3, "=", lambda m: RECON(m) - m.beta * m.kl_q_prior()),
    (3, "=", lambda m: RECON(m) - m.beta / 2 * np.sum(m.mu ** 2 + m.sigma ** 2 - log(m.sigma ** 2) - 1)),
])

# ---------------------------------------------------------------- EM, mixture of Gaussians (q_k = mix.r)
mix = draw_mixture
FREE = lambda g: np.sum(g.r * log(g.joint())) - np.sum(g.r * log(g.r))  # noqa: E731

SPECS["em_free_energy.md"] = Spec(mix, [
    (5, None, FREE),
    (5, "=", lambda g: np.sum(g.r * log(g.joint())) - np.sum(g.r * log(g.r))),
], [
    (7, None, lambda g: g.joint()[0]),
    (7, "=", lambda g: g.post()[0] * g.evidence()),
], [
    (7, None, lambda g: np.sum(g.r)),
    (7, "=", lambda g: 1.0),
], [
    (11, None, FREE),
    (11, "=", lambda g: np.sum(g.r * log(g.post() * g.evidence() / g.r))),
    (12, "=", lambda g: log(g.evidence()) - np.sum(g.r * log(g.r / g.post()))),
    (13, "=", lambda g: log(g.evidence()) - np.sum(g.r * (log(g.r) - log(g.post())))),
    (14, "<=", lambda g: log(g.evidence())),
])

SPECS["em_estep_posterior.md"] = Spec(mix, [
    (3, None, lambda g: g.post()[1]),
    (3, "=", lambda g: g.post()[1]),
    (3, "=", lambda g: g.pi[1] * npdf(g.x, g.m[1], g.s[1]) / np.sum(g.pi * npdf(g.x, g.m, g.s))),
], [
    (7, None, lambda g: np.sum(g.post() * log(g.joint() / g.post()))),
    (7, "=", lambda g: np.sum(g.post() * log(g.pi * npdf(g.x, g.m, g.s) / g.post()))),
    (7, "=", lambda g: np.sum(g.post() * log(np.sum(g.pi * npdf(g.x, g.m, g.s))))),
    (7, "=", lambda g: log(g.evidence())),
])

SPECS["em_free_energy_entropy_sign.md"] = Spec(mix, [
    (3, None, lambda g: np.sum(g.r * log(g.joint())) + (-np.sum(g.r * log(g.r)))),
    (3, "=", FREE),
], [
    (7, None, FREE),
    (7, "=", lambda g: np.sum(g.r * log(g.joint())) - np.sum(g.r * log(g.r))),
    (8, "=", lambda g: np.sum(g.r * log(g.joint())) + np.sum(g.r * log(g.r))),
    (9, "=", lambda g: np.sum(g.r * log(g.joint() * g.r))),
])

SPECS["em_mixture_jensen.md"] = Spec(mix, [
    (3, None, lambda g: log(np.sum(g.pi * npdf(g.x, g.m, g.s)))),
    (3, "=", lambda g: log(np.sum(g.r * g.pi * npdf(g.x, g.m, g.s) / g.r))),
    (3, ">=", lambda g: np.sum(g.r * log(g.pi * npdf(g.x, g.m, g.s) / g.r))),
])

SPECS["em_responsibility_missing_prior.md"] = Spec(mix, [
    (5, None, lambda g: g.post()[1]),
    (5, "=", lambda g: g.joint()[1] / g.evidence()),
    (5, "=", lambda g: g.pi[1] * npdf(g.x, g.m[1], g.s[1]) / g.evidence()),
    (7, "=", lambda g: npdf(g.x, g.m[1], g.s[1]) / np.sum(g.pi * npdf(g.x, g.m, g.s))),
    (9, "=", lambda g: npdf(g.x, g.m[1], g.s[1]) * np.sum(g.pi * npdf(g.x, g.m, g.s)) ** -1),
])

# ---------------------------------------------------------------- more displays and vectors
SPECS["kl_bracket_displays.md"] = Spec(uni, [
    (6, None, KL_UNI),
    (6, "=", lambda m: m.E_q(m.log_q) - m.E_q(m.log_prior)),
    (10, "=", lambda m: -0.5 * log(2 * pi * m.sigma ** 2) - 0.5 + 0.5 * LOG2PI + 0.5 * (m.mu ** 2 + m.sigma ** 2)),
    (14, "=", lambda m: 0.5 * (m.mu ** 2 + m.sigma ** 2 - 1 - log(m.sigma ** 2))),
])

SPECS["elbo_paren_inline.md"] = Spec(uni, [
    (3, None, KL_POST),
    (3, "=", lambda m: m.E_q(lambda z: m.log_q(z) - m.log_post(z))),
    (5, "=", lambda m: m.E_q(lambda z: m.log_q(z) - m.log_joint(z)) - m.log_evidence()),
], [
    (7, None, LOGPX),
    (7, "=", lambda m: m.E_q(lambda z: m.log_joint(z) - m.log_q(z)) + m.kl_q_post()),
])

SPECS["kl_two_gaussians_diag_sum.md"] = Spec(diag3, [
    (3, None, KL_TWO),
    (3, "=", lambda m: np.sum(log(m.sigma2 / m.sigma) + (m.sigma ** 2 + (m.mu - m.mu2) ** 2) / (2 * m.sigma2 ** 2) - 0.5)),
    (5, "=", lambda m: 0.5 * np.sum(m.sigma ** 2 / m.sigma2 ** 2 + (m.mu2 - m.mu) ** 2 / m.sigma2 ** 2 - 1
                                    + log(m.sigma2 ** 2 / m.sigma ** 2))),
])

EZZ = lambda mm: mm.E_q(lambda z: np.sum(z ** 2, axis=-1))  # noqa: E731

SPECS["reparam_diag_vector.md"] = Spec(diag2, [
    (5, None, lambda m: m.grad(EZZ, "mu", 1)),
    (5, "=", lambda m: m.E_eps(lambda e: m.grad(lambda mm: np.sum((mm.mu + mm.sigma * e) ** 2, axis=-1), "mu", 1))),
    (5, "=", lambda m: m.E_eps(lambda e: 2 * (m.mu[1] + m.sigma[1] * e[:, 1]))),
    (5, "=", lambda m: 2 * m.mu[1]),
], [
    (7, None, lambda m: m.grad(EZZ, "sigma", 1)),
    (7, "=", lambda m: m.E_eps(lambda e: 2 * (m.mu[1] + m.sigma[1] * e[:, 1]) * e[:, 1])),
    (7, "=", lambda m: 2 * m.sigma[1]),
])

# ---------------------------------------------------------------- other letters, semicolons, unbracketed E, labels
SPECS["elbo_triangleq_semicolon.md"] = Spec(uni, [
    (5, None, ELBO),
    (5, "=", lambda m: m.E_q(lambda z: m.log_lik(z) + m.log_prior(z) - m.log_q(z))),
], [
    (9, None, LOGPX),
    (9, "=", lambda m: log(m.E_q(RATIO(m)))),
    (9, ">=", lambda m: m.E_q(lambda z: log(RATIO(m)(z)))),
    (9, "=", ELBO),
])

SPECS["elbo_unbracketed_E.md"] = Spec(uni, [
    (3, None, ELBO),
    (3, "=", lambda m: m.E_q(m.log_lik) - m.kl_q_prior()),
    (5, "=", lambda m: m.E_q(lambda z: m.log_lik(z) + m.log_prior(z) - m.log_q(z))),
    (7, "=", lambda m: m.E_q(m.log_joint) + ENTROPY(m)),
], [
    (9, None, ENTROPY),
    (9, "=", lambda m: -m.E_q(m.log_q)),
])

SPECS["kl_underbrace.md"] = Spec(uni, [
    (4, None, KL_UNI),
    (4, "=", lambda m: -m.E_q(m.log_prior) - (-m.E_q(m.log_q))),
    (5, "=", lambda m: 0.5 * LOG2PI + 0.5 * (m.mu ** 2 + m.sigma ** 2) - 0.5 * log(2 * pi * np.e * m.sigma ** 2)),
])

# r(z) is the model's q, pi(z) its prior
SPECS["elbo_r_density.md"] = Spec(uni, [
    (7, None, lambda m: m.E_q(m.log_lik) - m.kl_q_prior()),
    (7, "=", lambda m: m.E_q(lambda z: m.log_lik(z) + m.log_prior(z) - m.log_q(z))),
    (8, "=", lambda m: m.E_q(m.log_lik) - m.E_prior(lambda z: m.log_prior(z) - m.log_q(z))),
    (9, "=", lambda m: m.E_q(m.log_lik) - m.E_prior(lambda z: m.log_prior(z) - m.log_q(z))),
])

SPECS["vae_loss_negative.md"] = Spec(uni, [
    (5, None, lambda m: -m.elbo()),
    (5, "=", lambda m: -m.E_q(m.log_lik) + m.kl_q_prior()),
    (7, "=", lambda m: -m.log_evidence() + m.kl_q_post()),
    (9, "<=", lambda m: -m.log_evidence()),
])

SPECS["kl_mathrm_d.md"] = Spec(uni, [
    (1, None, lambda m: m.q(m.z0)),
    (1, "=", lambda m: 1 / (sqrt(2 * pi) * m.sigma) * exp(-(m.z0 - m.mu) ** 2 / (2 * m.sigma ** 2))),
], [
    (1, None, lambda m: m.prior(m.z0)),
    (1, "=", lambda m: 1 / sqrt(2 * pi) * exp(-m.z0 ** 2 / 2)),
], [
    (5, None, KL_UNI),
    (5, "=", lambda m: m.E_q(lambda z: log(m.q(z) / m.prior(z)))),
    (6, "=", lambda m: m.E_q(lambda z: log(1 / m.sigma[0] * exp(c(z) ** 2 / 2 - (c(z) - m.mu[0]) ** 2 / (2 * m.sigma[0] ** 2))))),
    (7, "=", lambda m: m.E_q(lambda z: -log(m.sigma[0]) + c(z) ** 2 / 2 - (c(z) - m.mu[0]) ** 2 / (2 * m.sigma[0] ** 2))),
    (8, "=", lambda m: -log(m.sigma) + (m.mu ** 2 + m.sigma ** 2) / 2 - 0.5),
])

SPECS["score_partial.md"] = Spec(uni, [
    (3, None, lambda m: m.grad(lambda mm: mm.log_q(m.z0), "mu")),
    (3, "=", lambda m: (m.mu - m.z0) / m.sigma ** 2),
], [
    (5, None, lambda m: m.grad(EZ2, "mu")),
    (5, "=", lambda m: m.E_q(lambda z: c(z) ** 2 * m.grad(lambda mm: mm.log_q(z), "mu"))),
    (5, "=", lambda m: 2 * m.mu),
])

# the condition c is fixed: p(z|c) is the model's prior, p(x|z,c) its likelihood
SPECS["elbo_conditional.md"] = Spec(uni, [
    (5, None, LOGPX),
    (5, "=", lambda m: m.E_q(lambda z: log(RATIO(m)(z))) + m.kl_q_post()),
    (7, ">=", lambda m: m.E_q(m.log_lik) - m.kl_q_prior()),
])

SPECS["iwae_estimator_missing_mean.md"] = Spec(uni, [
    (3, None, lambda m: iwae(m, m.K)),
    (3, "=", lambda m: iwae(m, m.K)),
], [
    (7, None, lambda m: iwae(m, m.K)),
    (7, "~=", lambda m: m.estimate(lambda s: log(np.sum(exp(m.log_joint(s) - m.log_q(s)), axis=1)), m.K, 100000)),
], [
    (9, None, lambda m: m.estimate(lambda s: log(np.sum(exp(m.log_joint(s) - m.log_q(s)), axis=1)), m.K, 100000)),
    (9, "=", lambda m: m.estimate(lambda s: log(np.sum(exp(m.log_joint(s) - m.log_q(s)), axis=1)), m.K, 100000)),
])

# ---------------------------------------------------------------- letters, factors, scopes, mixtures
# P = N(mu, sigma^2) and Q = N(mu2, sigma2^2) of the model; E_P without brackets reaches to the end
KL_PQ = lambda m: m.E_q(lambda z: m.log_q(z) - m.log_q2(z))  # noqa: E731


def _kl_letters(ratio):
    return Spec(uni, [
        (3, None, KL_PQ),
        (3, "=", KL_PQ),
        (5, "=", lambda m: m.E_q(lambda z: log(ratio(m)) - (c(z) - m.mu[0]) ** 2 / (2 * m.sigma[0] ** 2)
                                 + (c(z) - m.mu2[0]) ** 2 / (2 * m.sigma2[0] ** 2))),
        (7, "=", lambda m: log(ratio(m)) + (m.sigma ** 2 + (m.mu - m.mu2) ** 2) / (2 * m.sigma2 ** 2) - 0.5),
    ])


SPECS["kl_letters_declared.md"] = _kl_letters(lambda m: m.sigma2 / m.sigma)
SPECS["kl_letters_declared_ratio.md"] = _kl_letters(lambda m: m.sigma / m.sigma2)

SPECS["kl_factor_coordinates.md"] = Spec(diag2, [
    (5, None, KL_UNI),
    (5, "=", lambda m: m.E_q(lambda z: m.log_q(z) - m.log_prior(z))),
    (6, "=", lambda m: np.sum(0.5 * (m.mu ** 2 + m.sigma ** 2 - 1) - log(m.sigma))),
    (7, "=", lambda m: 0.5 * np.sum(m.mu ** 2 + m.sigma ** 2 - 1 - log(m.sigma ** 2))),
])


def _elbo_of_product(rel):
    return Spec(uni, [
        (3, None, LOGPX),
        (3, "=", lambda m: m.E_q(lambda z: m.log_joint(z) - m.log_q(z) + m.log_q(z) - m.log_post(z))),
        (5, "=", lambda m: m.elbo() + m.kl_q_post()),
        (7, rel, lambda m: m.elbo()),
    ])


SPECS["elbo_log_of_product.md"] = _elbo_of_product(">=")
SPECS["elbo_log_of_product_reversed.md"] = _elbo_of_product("<=")

SPECS["em_responsibilities_defined.md"] = Spec(mix, [
    (3, None, lambda g: g.post()[1]),
    (3, "=", lambda g: g.post()[1]),
    (3, "=", lambda g: g.joint()[1] / g.evidence()),
], [
    (7, None, lambda g: np.sum(g.post() * log(g.joint() / g.post()))),
    (7, "=", lambda g: np.sum(g.post()) * log(g.evidence())),
    (7, "=", lambda g: log(g.evidence())),
])
