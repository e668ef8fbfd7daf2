"""`train` and `evaluate` subcommands for the main command line.

`register(subparsers)` adds both; their handlers return an exit code. torch
is imported only inside the handlers, so registering costs nothing for
`check`. Bad input (data, derivation, checkpoint) is one line on stderr and
exit code 2.
"""

from __future__ import annotations

import argparse
import sys

from ..argtypes import parse_command_line, positive_int
from .config import DEFAULTS


def _add_train(subparsers) -> argparse.ArgumentParser:
    d = DEFAULTS
    p = subparsers.add_parser("train", help="train a VAE on MNIST with the loss compiled from a proved ELBO",
                              description="Compile the last expression of a proved derivation to a torch loss "
                                          "and train a VAE on MNIST.")
    p.add_argument("--derivation", default=d["derivation"],
                   help="derivation YAML whose last step is the ELBO, or the name of a shipped one "
                        "(default %(default)s, shipped with the package)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=d["device"],
                   help="where to train (auto: CUDA when available, else CPU)")
    p.add_argument("--epochs", type=positive_int, default=d["epochs"], help="passes over the training set (default %(default)s)")
    p.add_argument("--batch-size", type=positive_int, default=d["batch_size"], help="images per step (default %(default)s)")
    p.add_argument("--hidden", type=positive_int, default=d["hidden"], help="hidden units (default %(default)s)")
    p.add_argument("--latent", type=positive_int, default=d["latent"], help="latent dimensions (default %(default)s)")
    p.add_argument("--lr", type=float, default=d["lr"], help="Adam learning rate (default %(default)s)")
    p.add_argument("--seed", type=int, default=d["seed"], help="random seed for weights, batches and samples (default %(default)s)")
    p.add_argument("--data-dir", default=d["data_dir"], help="folder with the MNIST IDX files (default ~/.cache/elbo-proofs/mnist)")
    p.add_argument("--split", type=positive_int, default=d["split"],
                   help="with only the t10k files: train on the first N images, evaluate on the rest (default %(default)s)")
    p.add_argument("--out", default=d["out"], help="output folder (default %(default)s)")
    p.add_argument("--binarize", choices=("dynamic", "static"), default=d["binarize"],
                   help="dynamic: a fresh Bernoulli sample of each image every epoch; static: one fixed sample")
    p.add_argument("--mc-samples", type=positive_int, default=d["mc_samples"], help="reparameterized samples per image in the loss")
    p.add_argument("--samples", type=positive_int, default=d["samples"],
                   help="K, the draws of an objective that is an expectation over K declared draws, such as the "
                        "importance-weighted bound of derivations/iwae_bound.yaml (default %(default)s)")
    p.add_argument("--eval-mc-samples", type=positive_int, default=d["eval_mc_samples"], help="samples per image for the reported ELBO")
    p.add_argument("--iw-samples", type=int, default=d["iw_samples"],
                   help="importance samples for log p(x) (default 1000 on GPU, 200 on CPU)")
    p.add_argument("--compile", choices=("auto", "on", "off", "cudagraphs"), default=d["compile"],
                   help="torch.compile the loss (auto: on CUDA; cudagraphs: also replay each step as a CUDA graph)")
    p.add_argument("--precision", choices=("auto", "fp32", "tf32", "bf16"), default=d["precision"],
                   help="matmul precision (auto: tf32 on CUDA; bf16 on CPUs with native bf16, else fp32)")
    p.add_argument("--names", default=d["names"],
                   help="the ELBO's vectors for data, Bernoulli mean, encoder mean, encoder std (default %(default)s)")
    p.add_argument("--threads", type=int, default=d["threads"], help="CPU threads (default: torch's choice)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="settings",
                   help="a value for a declared scalar parameter of the objective, checked against its declared "
                        "kind and assumptions (beta=4 for derivations/beta_vae.yaml); --NAME VALUE says the same "
                        "for a NAME that is not an option of train; repeatable")
    p.add_argument("--offline", action="store_true", help="never download: fail with a message when files are missing")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    # Options train does not know are read as --NAME VALUE settings of the objective's parameters.
    p.set_defaults(func=run_train, takes_parameter_options=True)
    return p


def _add_evaluate(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("evaluate", help="report the ELBO and log p(x) of a checkpoint written by train",
                              description="Load a checkpoint written by train and report its test ELBO and "
                                          "importance-weighted log p(x).")
    p.add_argument("checkpoint", help="checkpoint file written by train (OUT/checkpoint.pt)")
    p.add_argument("--data-dir", default=None, help="MNIST folder (default: the one used for training)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where to evaluate (auto: CUDA when available, else CPU)")
    p.add_argument("--iw-samples", type=int, default=0, help="importance samples (default: as in training)")
    p.add_argument("--out", default=None, help="also write sample and reconstruction PNGs here")
    p.add_argument("--offline", action="store_true", help="never download MNIST files")
    p.set_defaults(func=run_evaluate)
    return p


def register(subparsers) -> None:
    """Add `train` and `evaluate` to an argparse subparsers object."""
    _add_train(subparsers)
    _add_evaluate(subparsers)


add_train_commands = register


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _torch_missing() -> str | None:
    try:
        import torch  # noqa: F401
    except ImportError:
        return "train/evaluate need torch: pip install 'elbo-proofs[train]' (or torch==<version> for your machine)"
    return None


def _known_errors():
    from .codegen import CodegenError
    from .derivation import TrainingInputError
    from .mnist import MNISTError

    return (TrainingInputError, MNISTError, CodegenError)


def run_train(args) -> int:
    missing = _torch_missing()
    if missing:
        return _fail(missing)
    from .derivation import load_proved_elbo
    from .loop import TrainConfig, train
    from .parameters import ParameterError, describe, settings_from

    try:
        settings = settings_from(getattr(args, "settings", ()), getattr(args, "parameter_options", ()))
        parameters = describe(settings)
    except ParameterError as exc:
        return _fail(str(exc))
    cfg = TrainConfig(
        derivation=args.derivation, data_dir=args.data_dir, out=args.out, device=args.device,
        epochs=args.epochs, batch_size=args.batch_size, hidden=args.hidden, latent=args.latent,
        lr=args.lr, seed=args.seed, binarize=args.binarize, mc_samples=args.mc_samples, split=args.split,
        iw_samples=args.iw_samples, eval_mc_samples=args.eval_mc_samples, compile=args.compile,
        precision=args.precision, names=args.names, progress=not args.no_progress, threads=args.threads,
        download=not args.offline, samples=args.samples, parameters=parameters,
    )
    try:
        expr = load_proved_elbo(cfg.derivation, settings)
        train(cfg, expr)
    except _known_errors() as exc:
        return _fail(str(exc))
    except OSError as exc:  # unwritable --out and the like
        return _fail(f"{exc.filename or ''}: {exc.strerror or exc}")
    except KeyboardInterrupt:
        return _fail("interrupted")
    return 0


def run_evaluate(args) -> int:
    missing = _torch_missing()
    if missing:
        return _fail(missing)
    from .evaluate import evaluate

    try:
        evaluate(args.checkpoint, data_dir=args.data_dir, device=args.device, iw_samples=args.iw_samples, out=args.out,
                 download=not args.offline)
    except _known_errors() as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"{exc.filename or ''}: {exc.strerror or exc}")
    except KeyboardInterrupt:
        return _fail("interrupted")
    return 0


def main(argv=None) -> int:
    """Stand-alone entry (`python -m elbo_proofs.training.commands train ...`)."""
    parser = argparse.ArgumentParser(prog="elbo-proofs")
    register(parser.add_subparsers(dest="command", required=True))
    args = parse_command_line(parser, argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
