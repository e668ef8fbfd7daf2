"""MNIST in the original IDX format, read and written with numpy only.

No torch here: the loader is plain numpy so that it can be tested (and its
errors reported) without importing torch.

Layout of an IDX file: two zero bytes, a type byte (0x08 = unsigned byte), a
byte with the number of dimensions, one big-endian uint32 per dimension, then
the data in C order. The files may be gzip-compressed or not.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
ALL_FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

# md5 of the .gz files as served by the mirrors (the values torchvision uses).
# Only downloads are checked against them: a folder filled by hand may hold
# files that were recompressed, so there only the IDX structure is checked.
MD5 = {
    TRAIN_IMAGES: "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    TRAIN_LABELS: "d53e105ee54ea40749a09fcbcd1e9432",
    TEST_IMAGES: "9fb629c4189551a2d022fa330f9573f3",
    TEST_LABELS: "ec29112dd5afa0611ce80d1b7f02629c",
}
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
DEFAULT_SPLIT = 8000

_IDX_TYPES = {0x08: np.uint8}


class MNISTError(Exception):
    """A problem with the data files, worded for a one-line message."""


def default_data_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    return Path(base) / "elbo-proofs" / "mnist"


# ---------------------------------------------------------------- IDX format


# The largest MNIST file, train-images, is 47,040,016 bytes; nothing in the folder
# may be (or inflate to) more than this, so a gzip bomb costs at most this much.
MAX_IDX_BYTES = 64 << 20


def _read_bytes(path: Path, limit: int = MAX_IDX_BYTES) -> bytes:
    from ..errors import InputError
    from ..inputs import read_bounded

    try:
        raw = read_bounded(path, limit, what="data file")
    except InputError as exc:
        raise MNISTError(str(exc)) from None
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as inflating:
            data = inflating.read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise MNISTError(f"{path}: corrupt or truncated gzip data ({exc})") from None
    if len(data) > limit:
        raise MNISTError(f"{path}: inflates to more than {limit} bytes, more than any MNIST file")
    return data


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    if len(data) < 4:
        raise MNISTError(f"{name}: too short to be an IDX file ({len(data)} bytes)")
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code not in _IDX_TYPES or not 1 <= ndim <= 4:
        raise MNISTError(f"{name}: not an unsigned-byte IDX file (header {data[:4].hex()})")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise MNISTError(f"{name}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", data[4:header_len])
    expected = int(np.prod(shape, dtype=np.int64))
    found = len(data) - header_len
    if found < expected:
        raise MNISTError(f"{name}: truncated, shape {shape} needs {expected} bytes of data, found {found}")
    if found > expected:
        raise MNISTError(f"{name}: {found - expected} unexpected bytes after the data of shape {shape}")
    # A copy: frombuffer views of bytes are read-only, and torch warns on those.
    return np.frombuffer(data, dtype=_IDX_TYPES[dtype_code], offset=header_len).reshape(shape).copy()


def read_idx(path: str | os.PathLike) -> np.ndarray:
    path = Path(path)
    return parse_idx(_read_bytes(path), str(path))


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write a uint8 array as IDX; gzip when the name ends in .gz (or when asked)."""
    path = Path(path)
    array = np.ascontiguousarray(array, dtype=np.uint8)
    payload = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload += array.tobytes()
    if compress if compress is not None else path.suffix == ".gz":
        payload = gzip.compress(payload, mtime=0)
    path.write_bytes(payload)
    return path


# ---------------------------------------------------------------- the folder


def find_file(data_dir: Path, stem: str) -> Path | None:
    for candidate in (data_dir / f"{stem}.gz", data_dir / stem):
        if candidate.exists():  # not only regular files: reading names what else it is
            return candidate
    return None


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(data_dir: Path, stems, mirrors=MIRRORS, md5=MD5, timeout: float = 20.0) -> None:
    """Fetch `stems` (.gz) into data_dir, checking each download's md5 before keeping it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for stem in stems:
        errors = []
        for mirror in mirrors:
            url = f"{mirror}{stem}.gz"
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    body = response.read()
            except (urllib.error.URLError, OSError, ValueError) as exc:
                errors.append(f"{url}: {getattr(exc, 'reason', None) or exc}")
                continue
            got = hashlib.md5(body).hexdigest()
            if stem in md5 and got != md5[stem]:
                errors.append(f"{url}: md5 {got} != {md5[stem]}")
                continue
            # Write then rename, so an interrupted download never looks complete.
            fd, tmp = tempfile.mkstemp(dir=data_dir, suffix=".part")
            with os.fdopen(fd, "wb") as handle:
                handle.write(body)
            os.replace(tmp, data_dir / f"{stem}.gz")
            break
        else:
            # One line: the last mirror's reason stands for all (usually "no network").
            raise MNISTError(
                f"cannot download {stem}.gz from {len(mirrors)} mirror(s) ({errors[-1] if errors else 'none given'}); "
                + _where_to_put(data_dir)
            )


def _where_to_put(data_dir: Path) -> str:
    return (
        f"put {', '.join(s + '.gz' for s in ALL_FILES)} in {data_dir} "
        f"(or only the two t10k-* files, to train on a split of the test set), or pass --data-dir"
    )


@dataclass
class MNIST:
    """Images as uint8 [N, 784] (0..255), labels as uint8 [N]."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str

    def describe(self) -> str:
        return f"{self.source}: {len(self.train_images)} train / {len(self.test_images)} test images"


def _load_pair(data_dir: Path, images_stem: str, labels_stem: str):
    images = read_idx(find_file(data_dir, images_stem))
    labels = read_idx(find_file(data_dir, labels_stem))
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise MNISTError(f"{images_stem}: expected images of shape [N, 28, 28], found {list(images.shape)}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise MNISTError(f"{labels_stem}: expected {len(images)} labels, found shape {list(labels.shape)}")
    return images.reshape(len(images), 784), labels


def load_mnist(data_dir: str | os.PathLike | None = None, split: int = DEFAULT_SPLIT,
               allow_download: bool = True, mirrors=MIRRORS) -> MNIST:
    """Load MNIST from data_dir.

    With all four files: the standard 60,000 / 10,000 split. With only the two
    t10k files: the first `split` test images train and the rest evaluate, so
    everything runs without network. With neither: download all four.
    """
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    if data_dir.exists() and not data_dir.is_dir():
        raise MNISTError(f"--data-dir {data_dir} is not a folder")
    present = {stem for stem in ALL_FILES if data_dir.is_dir() and find_file(data_dir, stem)}
    has_test = {TEST_IMAGES, TEST_LABELS} <= present
    has_train = {TRAIN_IMAGES, TRAIN_LABELS} <= present
    if not has_test or (present & {TRAIN_IMAGES, TRAIN_LABELS} and not has_train):
        missing = [stem for stem in ALL_FILES if stem not in present]
        if not allow_download:
            raise MNISTError(f"missing {', '.join(m + '.gz' for m in missing)} in {data_dir}: " + _where_to_put(data_dir))
        download(data_dir, missing, mirrors=mirrors)
        has_train = has_test = True
    test_x, test_y = _load_pair(data_dir, TEST_IMAGES, TEST_LABELS)
    if has_train:
        train_x, train_y = _load_pair(data_dir, TRAIN_IMAGES, TRAIN_LABELS)
        return MNIST(train_x, train_y, test_x, test_y, f"MNIST in {data_dir}")
    if not 0 < split < len(test_x):
        raise MNISTError(f"--split {split} must be between 1 and {len(test_x) - 1} for the {len(test_x)} images in {data_dir}")
    return MNIST(test_x[:split], test_y[:split], test_x[split:], test_y[split:],
                 f"MNIST test set in {data_dir}, split at {split}")
