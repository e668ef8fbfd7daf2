"""IDX files: round trip, bad and truncated files, the test-only folder, downloads, PNG."""

from __future__ import annotations

import gzip
import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from elbo_proofs.training import mnist
from elbo_proofs.training.images import grid, png_bytes, read_png_gray, save_reconstructions
from elbo_proofs.training.mnist import MNISTError, load_mnist, read_idx, write_idx

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "mnist"


def fake_images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Bright rectangles on black, a few per image: structure an autoencoder can learn."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), np.uint8)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    for i in range(n):
        for _ in range(2):
            r, c = rng.integers(2, 20, 2)
            h, w = rng.integers(3, 8, 2)
            images[i, r:r + h, c:c + w] = rng.integers(150, 256)
    return images, labels


def write_folder(folder: Path, n_test: int = 300, n_train: int = 0, gz: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    images, labels = fake_images(n_test, seed=1)
    write_idx(folder / f"{mnist.TEST_IMAGES}{suffix}", images)
    write_idx(folder / f"{mnist.TEST_LABELS}{suffix}", labels)
    if n_train:
        images, labels = fake_images(n_train, seed=2)
        write_idx(folder / f"{mnist.TRAIN_IMAGES}{suffix}", images)
        write_idx(folder / f"{mnist.TRAIN_LABELS}{suffix}", labels)
    return folder


@pytest.mark.parametrize("name", ["a-idx3-ubyte", "a-idx3-ubyte.gz"])
def test_idx_round_trip(tmp_path, name):
    images, _ = fake_images(7)
    path = write_idx(tmp_path / name, images)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    back = read_idx(path)
    assert back.dtype == np.uint8 and back.shape == (7, 28, 28)
    np.testing.assert_array_equal(back, images)
    back[0, 0, 0] = 1  # writable: no torch warning about read-only memory


def test_idx_labels_round_trip(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "l.gz", labels)), labels)


def test_truncated_idx_is_a_clear_error(tmp_path):
    images, _ = fake_images(5)
    path = write_idx(tmp_path / "t-idx3-ubyte", images)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(MNISTError, match="truncated"):
        read_idx(path)


def test_truncated_gzip_is_a_clear_error(tmp_path):
    images, _ = fake_images(50)
    path = write_idx(tmp_path / "t-idx3-ubyte.gz", images)
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(MNISTError, match="corrupt or truncated gzip"):
        read_idx(path)


@pytest.mark.parametrize("payload, match", [
    (b"", "too short"),
    (b"\x00\x00\x0d\x03" + b"\x00" * 20, "not an unsigned-byte IDX"),
    (b"GIF89a" + b"\x00" * 30, "not an unsigned-byte IDX"),
    (b"\x00\x00\x08\x03\x00\x00", "truncated IDX header"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x02" + b"\x01\x02\x03", "unexpected bytes"),
])
def test_bad_idx_files(tmp_path, payload, match):
    path = tmp_path / "bad"
    path.write_bytes(payload)
    with pytest.raises(MNISTError, match=match):
        read_idx(path)
    gz = tmp_path / "bad.gz"
    gz.write_bytes(gzip.compress(payload))
    with pytest.raises(MNISTError, match=match):
        read_idx(gz)


def test_test_only_folder_is_split(tmp_path):
    folder = write_folder(tmp_path / "m", n_test=300, gz=False)
    data = load_mnist(folder, split=200, allow_download=False)
    assert data.train_images.shape == (200, 784) and data.test_images.shape == (100, 784)
    images, labels = fake_images(300, seed=1)
    np.testing.assert_array_equal(data.train_images, images[:200].reshape(200, 784))
    np.testing.assert_array_equal(data.test_labels, labels[200:])
    with pytest.raises(MNISTError, match="--split 300"):
        load_mnist(folder, split=300, allow_download=False)


def test_full_folder_uses_standard_split(tmp_path):
    folder = write_folder(tmp_path / "m", n_test=40, n_train=60)
    data = load_mnist(folder, split=10, allow_download=False)
    assert len(data.train_images) == 60 and len(data.test_images) == 40


def test_mismatched_labels(tmp_path):
    folder = write_folder(tmp_path / "m", n_test=30)
    write_idx(folder / f"{mnist.TEST_LABELS}.gz", np.zeros(29, np.uint8))
    with pytest.raises(MNISTError, match="expected 30 labels"):
        load_mnist(folder, split=10, allow_download=False)


def test_missing_files_say_where_to_put_them(tmp_path):
    with pytest.raises(MNISTError) as info:
        load_mnist(tmp_path / "empty", allow_download=False)
    message = str(info.value)
    assert "\n" not in message
    assert "t10k-images-idx3-ubyte.gz" in message and str(tmp_path / "empty") in message


def test_download_checks_md5(tmp_path):
    """Downloads go through the same code path from a file:// mirror."""
    mirror = write_folder(tmp_path / "mirror", n_test=30, n_train=20)
    md5 = {stem: hashlib.md5((mirror / f"{stem}.gz").read_bytes()).hexdigest() for stem in mnist.ALL_FILES}
    url = mirror.as_uri() + "/"
    target = tmp_path / "cache"
    mnist.download(target, mnist.ALL_FILES, mirrors=(url,), md5=md5)
    data = load_mnist(target, allow_download=False)
    assert len(data.train_images) == 20 and len(data.test_images) == 30

    bad = dict(md5, **{mnist.TEST_IMAGES: "0" * 32})
    with pytest.raises(MNISTError, match="md5"):
        mnist.download(tmp_path / "cache2", [mnist.TEST_IMAGES], mirrors=(url,), md5=bad)
    assert not (tmp_path / "cache2" / f"{mnist.TEST_IMAGES}.gz").exists()  # nothing half-kept


def test_unreachable_mirror_is_one_clear_line(tmp_path):
    with pytest.raises(MNISTError) as info:
        load_mnist(tmp_path / "none", mirrors=((tmp_path / "nowhere").as_uri() + "/",))
    assert "\n" not in str(info.value) and "put " in str(info.value)


@pytest.mark.skipif(not (SHARED / "t10k-images-idx3-ubyte.gz").exists(), reason="shared MNIST test set absent")
def test_shared_mnist_test_set():
    data = load_mnist(SHARED, split=8000, allow_download=False)
    assert data.train_images.shape == (8000, 784) and data.test_images.shape == (2000, 784)
    assert list(data.train_labels[:10]) == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    everything = np.concatenate([data.train_images, data.test_images])
    assert abs(everything.mean() - 33.79) < 0.01


def test_png_round_trip(tmp_path):
    images = np.random.default_rng(0).random((6, 784))
    picture = grid(images, 2, 3)
    assert picture.shape == (2 * 30 + 2, 3 * 30 + 2)
    np.testing.assert_array_equal(read_png_gray(png_bytes(picture)), picture)
    path = save_reconstructions(tmp_path / "r.png", images, images, rows=1)
    assert read_png_gray(path.read_bytes()).shape == (32, 16 * 30 + 2)


def test_no_torch_on_import():
    code = ("import sys, argparse\n"
            "import elbo_proofs.training, elbo_proofs.training.codegen, elbo_proofs.training.mnist\n"
            "import elbo_proofs.training.images, elbo_proofs.training.config, elbo_proofs.training.derivation\n"
            "from elbo_proofs.training.commands import register\n"
            "register(argparse.ArgumentParser().add_subparsers())\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
