"""The special functions of the numeric evaluator and models, from SciPy loaded on first use.

Importing scipy.special costs about half a bare SymPy import; most derivations
(Gaussian KL, ELBO decompositions) never need it, so it is imported the first
time one of these functions is called.
"""
from __future__ import annotations


def _special():
    from scipy import special

    return special


def erf(x):
    return _special().erf(x)


def erfc(x):
    return _special().erfc(x)


def gamma(x):
    return _special().gamma(x)


def gammaln(x):
    return _special().gammaln(x)


def xlogy(x, y):
    return _special().xlogy(x, y)


def expit(x):
    return _special().expit(x)


def logsumexp(a, axis=None, keepdims=False):
    return _special().logsumexp(a, axis=axis, keepdims=keepdims)
