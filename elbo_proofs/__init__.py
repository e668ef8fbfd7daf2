"""elbo-proofs: verify ELBO derivations symbolically and numerically, grade them, train them."""
__version__ = "0.1.0"
