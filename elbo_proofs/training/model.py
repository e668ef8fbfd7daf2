"""The VAE: an MLP encoder to (mean, log-variance) and an MLP decoder to Bernoulli logits."""

from __future__ import annotations

import torch
from torch import nn


class VAE(nn.Module):
    def __init__(self, x_dim: int = 784, hidden: int = 400, latent: int = 20):
        super().__init__()
        self.latent = latent
        self.enc = nn.Linear(x_dim, hidden)
        # One layer for both heads: one matmul instead of two.
        self.enc_out = nn.Linear(hidden, 2 * latent)
        self.dec = nn.Linear(latent, hidden)
        self.dec_out = nn.Linear(hidden, x_dim)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.enc_out(torch.relu(self.enc(x))).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Logits of the Bernoulli means; the loss never takes their sigmoid."""
        return self.dec_out(torch.relu(self.dec(z)))

    def forward(self, x: torch.Tensor, eps: torch.Tensor):
        """eps: [L, B, latent] standard normal noise; returns logits [L, B, x_dim], mu, logvar."""
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * eps  # reparameterization: the gradient flows through z
        return self.decode(z), mu, logvar
