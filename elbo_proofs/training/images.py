"""Grayscale PNG grids, written with zlib and struct (no imaging library)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(image: np.ndarray) -> bytes:
    """An 8-bit grayscale PNG of a [H, W] uint8 array."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if image.ndim != 2:
        raise ValueError(f"expected a [H, W] array, got shape {image.shape}")
    height, width = image.shape
    # Each scanline starts with filter type 0 (none).
    raw = np.concatenate([np.zeros((height, 1), np.uint8), image], axis=1).tobytes()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")


def read_png_gray(data: bytes) -> np.ndarray:
    """Inverse of png_bytes (only for what it writes); used by the tests."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        crc = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, "bad CRC"
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, width + 1)
    assert not rows[:, 0].any(), "only filter type 0 is supported"
    return rows[:, 1:].copy()


def grid(images: np.ndarray, rows: int, cols: int, pad: int = 2) -> np.ndarray:
    """Tile [N, 784] (or [N, 28, 28]) images with values in [0, 1] into one uint8 picture."""
    images = np.asarray(images, dtype=np.float32).reshape(-1, 28, 28)
    out = np.full((rows * (28 + pad) + pad, cols * (28 + pad) + pad), 255, np.uint8)
    for i, image in enumerate(images[: rows * cols]):
        r, c = divmod(i, cols)
        top, left = pad + r * (28 + pad), pad + c * (28 + pad)
        out[top:top + 28, left:left + 28] = np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
    return out


def save_grid(path: str | Path, images: np.ndarray, rows: int, cols: int) -> Path:
    path = Path(path)
    path.write_bytes(png_bytes(grid(images, rows, cols)))
    return path


def save_reconstructions(path: str | Path, inputs: np.ndarray, recons: np.ndarray, rows: int = 8) -> Path:
    """Each row: 8 inputs then their 8 reconstructions, so pairs sit side by side per row."""
    inputs = np.asarray(inputs).reshape(-1, 784)
    recons = np.asarray(recons).reshape(-1, 784)
    n = min(len(inputs), rows * 8)
    rows = max(1, (n + 7) // 8)
    tiles = np.zeros((rows * 16, 784), np.float32)
    for i in range(n):
        r, c = divmod(i, 8)
        tiles[r * 16 + c] = inputs[i]
        tiles[r * 16 + 8 + c] = recons[i]
    return save_grid(path, tiles, rows, 16)
