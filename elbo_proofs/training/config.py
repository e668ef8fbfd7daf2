"""The training configuration: plain data, saved into every checkpoint (no torch here)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from .mnist import DEFAULT_SPLIT


@dataclass
class TrainConfig:
    derivation: str = "derivations/vae_elbo.yaml"
    data_dir: str | None = None  # None: ~/.cache/elbo-proofs/mnist
    out: str = "runs/vae"
    device: str = "auto"  # auto | cpu | cuda
    epochs: int = 10
    batch_size: int = 128
    hidden: int = 400
    latent: int = 20
    lr: float = 1e-3
    seed: int = 0
    binarize: str = "dynamic"  # dynamic: fresh Bernoulli sample per epoch; static: one fixed sample
    mc_samples: int = 1  # reparameterized samples per image in the loss
    split: int = DEFAULT_SPLIT  # only used when the folder holds just the test files
    download: bool = True  # fetch missing files from the mirrors
    iw_samples: int = 0  # importance samples for log p(x); 0: 1000 on GPU, 200 on CPU
    eval_mc_samples: int = 1  # samples per image for the reported ELBO
    compile: str = "auto"  # auto (on CUDA) | on | off | cudagraphs (CUDA: compiled and replayed as a graph)
    precision: str = "auto"  # auto (tf32 on CUDA; bf16 on CPUs with native bf16, else fp32) | fp32 | tf32 | bf16
    names: str = "x,x_hat,mu,sigma"  # the ELBO's vectors for: data, Bernoulli mean, encoder mean, encoder std
    progress: bool = True
    threads: int = 0  # CPU threads for torch; 0 leaves torch's default

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


DEFAULTS = asdict(TrainConfig())
