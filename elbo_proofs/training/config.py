"""The training configuration: plain data, saved into every checkpoint (no torch here)."""

from __future__ import annotations

import math
import re
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
    samples: int = 1  # K: draws of an objective that is an expectation over K declared draws (the IWAE bound)
    parameters: str = ""  # values of the objective's declared scalar parameters, "beta=4" (comma-separated)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """A configuration from stored data (a checkpoint), every value checked by type and range.

        Raises ConfigError naming the first bad field; fields this version does not know are ignored.
        """
        if not isinstance(d, dict):
            raise ConfigError(f"the configuration is a {type(d).__name__}, not a mapping")
        values = {}
        for f in fields(cls):
            if f.name in d:
                values[f.name] = _checked(f.name, d[f.name], DEFAULTS[f.name])
        return cls(**values)


class ConfigError(ValueError):
    """A stored configuration value of the wrong type or out of range."""


# Ranges and choices of the stored fields (the command line enforces the same through argparse).
AT_LEAST_ONE = ("epochs", "batch_size", "hidden", "latent", "mc_samples", "eval_mc_samples", "split", "samples")
AT_LEAST_ZERO = ("seed", "iw_samples", "threads")
CHOICES = {
    "device": ("auto", "cpu", "cuda"),
    "binarize": ("dynamic", "static"),
    "compile": ("auto", "on", "off", "cudagraphs"),
    "precision": ("auto", "fp32", "tf32", "bf16"),
}
UPPER = {"hidden": 1 << 16, "latent": 1 << 12, "mc_samples": 1 << 12, "eval_mc_samples": 1 << 12,
         "iw_samples": 1 << 16, "samples": 1 << 12, "batch_size": 1 << 20, "epochs": 1 << 20, "threads": 1 << 10}
MAX_TEXT = 4096
_NAME = re.compile(r"^[^\W\d]\w{0,63}$")
_SETTING = re.compile(r"^[^\W\d]\w{0,63}=[0-9eE+\-./]{1,60}$")


def _checked(name: str, value, default):
    """`value` if it has the type of the field's default and lies in its range, else ConfigError."""
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    elif default is None or isinstance(default, str):  # data_dir may be None
        ok = (value is None and default is None) or (isinstance(value, str) and len(value) <= MAX_TEXT)
    else:
        ok = False
    if not ok:
        raise ConfigError(f"{name} has a value of type {type(value).__name__}, which is not a {type(default).__name__}")
    if name in AT_LEAST_ONE and value < 1 or name in AT_LEAST_ZERO and value < 0:
        raise ConfigError(f"{name} is {value}, which is out of range")
    if name in UPPER and value > UPPER[name]:
        raise ConfigError(f"{name} is {value}, above the largest accepted {UPPER[name]}")
    if name == "lr" and not value > 0:
        raise ConfigError(f"lr is {value}; it must be positive")
    if name == "names" and not all(_NAME.match(part.strip()) for part in value.split(",")):
        raise ConfigError(f"names is {value[:40]!r}; expected four names separated by commas")
    if name == "parameters" and value and not all(_SETTING.match(part) for part in value.split(",")):
        raise ConfigError(f"parameters is {value[:40]!r}; expected NAME=VALUE settings separated by commas")
    if name in CHOICES and value not in CHOICES[name]:
        raise ConfigError(f"{name} is {value[:40]!r}; expected one of {', '.join(CHOICES[name])}")
    return value


DEFAULTS = asdict(TrainConfig())
