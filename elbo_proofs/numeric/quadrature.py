"""Quadrature rules the evaluator integrates with.

Every rule returns its nodes along a new *leading* axis, shaped
``(n,) + (1,) * depth`` so that it broadcasts against the values already bound
(whose axes belong to enclosing expectations, integrals or repetitions).
Reducing over axis 0 integrates the newest variable out.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from numpy.polynomial.legendre import leggauss

# Gauss-Hermite nodes per coordinate for a product grid over k coordinates (at
# most 64, at most about 50,000 nodes in all): n nodes are exact for polynomials
# of degree 2n - 1 in each coordinate; Gaussian log-densities are degree 2.
GRID_NODES = {1: 64, 2: 64, 3: 36, 4: 14, 5: 8, 6: 6, 7: 4, 8: 3}
MAX_GRID_DIM = max(GRID_NODES)

# Integrals over the real line use the trapezoid rule on [-LINE_HALF_WIDTH, LINE_HALF_WIDTH].
LINE_HALF_WIDTH = 30.0
LINE_POINTS = 6001


class QuadratureError(Exception):
    """The requested rule does not exist (too many dimensions)."""


@lru_cache(maxsize=None)
def gauss_hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights (summing to 1) for E[f(t)], t ~ N(0, 1)."""
    t, w = hermegauss(n)
    return t, w / w.sum()


@lru_cache(maxsize=None)
def standard_normal_grid(k: int, n: int | None = None) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Product Gauss-Hermite grid (n nodes per coordinate) for a k-dimensional standard normal, flattened."""
    if k < 1 or k > MAX_GRID_DIM:
        raise QuadratureError(f"no quadrature grid for {k} dimensions (at most {MAX_GRID_DIM})")
    t, w = gauss_hermite(n or GRID_NODES[k])
    mesh = np.meshgrid(*([t] * k), indexing="ij")
    wmesh = np.meshgrid(*([w] * k), indexing="ij")
    nodes = tuple(m.ravel() for m in mesh)
    weights = np.prod(np.stack([m.ravel() for m in wmesh]), axis=0)
    return nodes, weights / weights.sum()


@lru_cache(maxsize=None)
def binary_grid(k: int) -> np.ndarray:
    """All 2^k binary vectors, shape (2^k, k)."""
    if k > 12:
        raise QuadratureError(f"cannot enumerate 2^{k} binary vectors")
    return np.array([[(i >> b) & 1 for b in range(k)] for i in range(2 ** k)], dtype=float)


@lru_cache(maxsize=None)
def real_line(fine: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Trapezoid nodes and weights on [-30, 30] for integrals over the real line.

    ``fine`` (spacing 0.002 instead of 0.01) is for integrands with kinks (abs,
    max), where the trapezoid rule is only second order.
    """
    x = np.linspace(-LINE_HALF_WIDTH, LINE_HALF_WIDTH, (LINE_POINTS - 1) * (5 if fine else 1) + 1)
    h = x[1] - x[0]
    w = np.full_like(x, h)
    w[0] = w[-1] = h / 2
    return x, w


@lru_cache(maxsize=None)
def gauss_legendre(n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    return leggauss(n)


def lead(a: np.ndarray, depth: int) -> np.ndarray:
    """Put a 1-D array of nodes on a new leading axis in front of ``depth`` axes."""
    a = np.asarray(a, dtype=float)
    return a.reshape(a.shape[:1] + (1,) * depth)


def reduce_leading(values, weights, depth: int):
    """Integrate the leading node axis out: sum of weights * values over axis 0.

    A value with no more than ``depth`` axes does not depend on the newest
    variable, so its integral against normalized weights is itself.
    """
    v = np.asarray(values, dtype=float)
    if v.ndim <= depth:
        return v
    # nodes whose weight underflowed to 0 contribute nothing, even where the value overflowed
    return np.sum(np.where(weights > 0, weights * v, 0.0), axis=0)
