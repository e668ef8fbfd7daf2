"""Concrete models on which the mathematics of the corpus is evaluated numerically.

This is trusted code, written for the key of the corpus, and it does not read any
LaTeX: each line of a corpus derivation has, in spec.py, a function of a `Model`
that computes the value of what that line says.  Expectations are computed by
Gauss-Hermite quadrature (exact for polynomials, accurate to ~1e-10 for the smooth
integrands here), gradients by central differences of those quadratures, and the
expectation of a Monte Carlo estimator (an average over L draws, the IWAE bound)
by many independent replicates, which returns an `Estimate` with a standard error.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

LOG2PI = math.log(2 * math.pi)


def sigmoid(t):
    return 1.0 / (1.0 + np.exp(-t))


def log_normal(z, m, s):
    """log N(z; m, diag(s^2)) summed over the last axis; z (..., d)."""
    z = np.asarray(z, dtype=float)
    return np.sum(-0.5 * np.log(2 * np.pi * s ** 2) - (z - m) ** 2 / (2 * s ** 2), axis=-1)


@dataclass(frozen=True)
class Estimate:
    """The expectation of a Monte Carlo estimator, as a mean of replicates and its standard error."""
    mean: float
    se: float


def _grid(d: int):
    n = {1: 60, 2: 30, 3: 14}[d]
    t, w = hermegauss(n)
    w = w / math.sqrt(2 * math.pi)
    if d == 1:
        return t[:, None], w
    mesh = np.meshgrid(*([t] * d), indexing="ij")
    pts = np.stack([g.ravel() for g in mesh], axis=-1)
    wts = np.ones(pts.shape[0])
    for k, g in enumerate(np.meshgrid(*([w] * d), indexing="ij")):
        wts = wts * g.ravel()
    return pts, wts


@dataclass(frozen=True)
class Model:
    """q(z|x) = N(mu, diag(sigma^2)), prior p(z) = N(m0, diag(s0^2)), a decoder p(x|z), data x.

    d: latent dimension, D: data dimension.  decoder 'gauss': p(x|z) = N(x; W z + b, sx^2 I);
    'bern': p(x|z) = prod_j Bernoulli(x_j; sigmoid(W z + b)_j).  mu2, sigma2: a second Gaussian
    (for the KL between two Gaussians).  z0, eps0: a point and a noise value for pointwise
    identities.  f(z) = sum(z^2) unless said otherwise; beta >= 1; L, K: sample counts.
    """
    mu: np.ndarray
    sigma: np.ndarray
    mu2: np.ndarray
    sigma2: np.ndarray
    m0: np.ndarray
    s0: np.ndarray
    W: np.ndarray
    b: np.ndarray
    sx: float
    x: np.ndarray
    decoder: str
    z0: np.ndarray
    eps0: np.ndarray
    beta: float
    L: int
    K: int
    seed: int

    @property
    def d(self) -> int:
        return self.mu.shape[0]

    @property
    def D(self) -> int:
        return self.x.shape[0]

    def with_(self, **kw) -> "Model":
        return replace(self, **kw)

    # -- densities -------------------------------------------------------------
    def log_q(self, z):
        return log_normal(z, self.mu, self.sigma)

    def log_q2(self, z):
        return log_normal(z, self.mu2, self.sigma2)

    def log_prior(self, z):
        return log_normal(z, self.m0, self.s0)

    def q(self, z):
        return np.exp(self.log_q(z))

    def prior(self, z):
        return np.exp(self.log_prior(z))

    def dec_mean(self, z):
        """W z + b for 'gauss', sigmoid(W z + b) for 'bern'; z (..., d) -> (..., D)."""
        a = np.asarray(z, dtype=float) @ self.W.T + self.b
        return a if self.decoder == "gauss" else sigmoid(a)

    def log_lik(self, z):
        """log p(x|z)."""
        m = self.dec_mean(z)
        if self.decoder == "gauss":
            return np.sum(-0.5 * np.log(2 * np.pi * self.sx ** 2) - (self.x - m) ** 2 / (2 * self.sx ** 2), axis=-1)
        return np.sum(self.x * np.log(m) + (1 - self.x) * np.log(1 - m), axis=-1)

    def lik(self, z):
        return np.exp(self.log_lik(z))

    def log_joint(self, z):
        return self.log_lik(z) + self.log_prior(z)

    def joint(self, z):
        return np.exp(self.log_joint(z))

    def log_evidence(self) -> float:
        """log p(x) = log E_{p(z)}[p(x|z)]."""
        return float(math.log(self.E_prior(self.lik)))

    def evidence(self) -> float:
        return math.exp(self.log_evidence())

    def log_post(self, z):
        """log p(z|x) by Bayes' rule."""
        return self.log_joint(z) - self.log_evidence()

    def post(self, z):
        return np.exp(self.log_post(z))

    # -- expectations by quadrature --------------------------------------------
    def _E(self, f, m, s) -> float:
        pts, wts = _grid(self.d)
        z = m + s * pts
        return float(np.sum(wts * np.broadcast_to(f(z), wts.shape)))

    def E_q(self, f) -> float:
        """E_{z ~ q}[f(z)], f maps (n, d) to (n,)."""
        return self._E(f, self.mu, self.sigma)

    def E_q2(self, f) -> float:
        return self._E(f, self.mu2, self.sigma2)

    def E_prior(self, f) -> float:
        return self._E(f, self.m0, self.s0)

    def E_eps(self, f) -> float:
        """E_{eps ~ N(0, I)}[f(eps)]."""
        return self._E(f, np.zeros(self.d), np.ones(self.d))

    def E_post(self, f) -> float:
        """E_{z ~ p(z|x)}[f(z)] by self-normalized quadrature under the prior."""
        return self.E_prior(lambda z: self.lik(z) * f(z)) / self.evidence()

    # -- derived quantities that several derivations share ----------------------
    def kl_q_prior(self) -> float:
        """KL(q || p(z)) = E_q[log q - log p], by quadrature (not the closed form)."""
        return self.E_q(lambda z: self.log_q(z) - self.log_prior(z))

    def kl_q_post(self) -> float:
        return self.E_q(lambda z: self.log_q(z) - self.log_post(z))

    def elbo(self) -> float:
        return self.E_q(lambda z: self.log_joint(z) - self.log_q(z))

    # -- gradients by central differences ---------------------------------------
    def grad(self, fn, name: str, j: int = 0, h: float = 1e-5) -> float:
        """d fn(model) / d name[j] (name a parameter vector of the model)."""
        v = np.array(getattr(self, name), dtype=float)
        vp, vm = v.copy(), v.copy()
        vp[j] += h
        vm[j] -= h
        return (fn(self.with_(**{name: vp})) - fn(self.with_(**{name: vm}))) / (2 * h)

    # -- Monte Carlo estimators ---------------------------------------------------
    def estimate(self, est, n: int, replicates: int = 20000, source: str = "q") -> Estimate:
        """The expectation of est(samples), samples of shape (replicates, n, d) drawn iid from
        q ('q'), the prior ('prior') or N(0, I) ('eps'); est returns (replicates,)."""
        rng = np.random.default_rng(self.seed + 7919 * n)
        eps = rng.standard_normal((replicates, n, self.d))
        if source == "q":
            s = self.mu + self.sigma * eps
        elif source == "prior":
            s = self.m0 + self.s0 * eps
        else:
            s = eps
        vals = np.asarray(est(s), dtype=float)
        return Estimate(float(vals.mean()), float(vals.std(ddof=1) / math.sqrt(replicates)))


def draw_model(seed: int, d: int = 1, D: int = 3, decoder: str = "gauss", prior: str = "standard") -> Model:
    """A concrete model with random parameters: q deliberately away from the posterior."""
    rng = np.random.default_rng(seed)
    mu = rng.uniform(-1.2, 1.2, d)
    sigma = rng.uniform(0.45, 1.5, d)
    mu2 = rng.uniform(-1.0, 1.0, d)
    sigma2 = rng.uniform(0.5, 1.6, d)
    if prior == "standard":
        m0, s0 = np.zeros(d), np.ones(d)
    else:
        m0, s0 = rng.uniform(-0.5, 0.5, d), rng.uniform(0.7, 1.3, d)
    W = rng.normal(0.0, 0.8, (D, d))
    b = rng.normal(0.0, 0.5, D)
    sx = float(rng.uniform(0.7, 1.2))
    x = rng.normal(0.0, 1.5, D) if decoder == "gauss" else rng.integers(0, 2, D).astype(float)
    return Model(mu=mu, sigma=sigma, mu2=mu2, sigma2=sigma2, m0=m0, s0=s0, W=W, b=b, sx=sx, x=x,
                 decoder=decoder, z0=rng.normal(0, 1, d), eps0=rng.normal(0, 1, d),
                 beta=float(rng.uniform(1.3, 3.0)), L=int(rng.integers(3, 6)), K=int(rng.integers(3, 7)),
                 seed=seed)


@dataclass(frozen=True)
class Mixture:
    """A mixture of univariate Gaussians p(x) = sum_k pi_k N(x; m_k, s_k^2), a datum x, and an
    arbitrary distribution r over the components (a q(z) for EM)."""
    pi: np.ndarray
    m: np.ndarray
    s: np.ndarray
    x: float
    r: np.ndarray

    def comp(self):
        """N(x; m_k, s_k^2) for every k."""
        return np.exp(-0.5 * np.log(2 * np.pi * self.s ** 2) - (self.x - self.m) ** 2 / (2 * self.s ** 2))

    def joint(self):
        """p(x, z=k) = pi_k N(x; m_k, s_k^2)."""
        return self.pi * self.comp()

    def evidence(self) -> float:
        return float(np.sum(self.joint()))

    def post(self):
        """p(z=k | x), the responsibilities."""
        return self.joint() / self.evidence()


def draw_mixture(seed: int, k: int = 3) -> Mixture:
    rng = np.random.default_rng(seed)
    pi = rng.dirichlet(np.ones(k) * 2)
    r = rng.dirichlet(np.ones(k) * 2)
    return Mixture(pi=pi, m=rng.uniform(-2, 2, k), s=rng.uniform(0.6, 1.5, k), x=float(rng.normal(0, 1.5)), r=r)
