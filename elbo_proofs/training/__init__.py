"""Training side: compile the proved ELBO to a torch loss and fit a VAE on MNIST.

Nothing here imports torch at import time: `elbo-proofs check` loads the
package without torch installed. Import the submodules that need it
(`loop`, `evaluate`, `model`) explicitly.
"""
