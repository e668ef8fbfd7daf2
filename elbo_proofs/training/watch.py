"""What a user watches while `train` runs: the phase it is in, per-epoch images, the ELBO curve.

* ``phase(...)``: one line (or a spinner on a terminal) for each phase that has
  no progress bar of its own -- reading MNIST, compiling the ELBO to a torch
  loss, the final importance-weighted evaluation -- and how long it took.
* ``epoch_figures(...)``: after every epoch, reconstructions of the same 32
  test images (``epochs/reconstructions_NNN.png``) and the ELBO-per-epoch curve
  (``elbo_curve.png``, next to ``metrics.jsonl``), redrawn so it can be opened
  while training runs.

The curve is drawn with numpy into a grayscale raster and written by the
project's own PNG writer (``images.png_bytes``), with a small built-in bitmap
font for the axis labels: no imaging library is needed (docs/training.md).
"""

from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path

import numpy as np

from .images import png_bytes, save_reconstructions

# -- a 5x7 bitmap font for the labels ------------------------------------------------
_GLYPHS = {
    "0": ["01110", "10001", "10011", "10101", "11001", "10001", "01110"],
    "1": ["00100", "01100", "00100", "00100", "00100", "00100", "01110"],
    "2": ["01110", "10001", "00001", "00010", "00100", "01000", "11111"],
    "3": ["11110", "00001", "00001", "01110", "00001", "00001", "11110"],
    "4": ["00010", "00110", "01010", "10010", "11111", "00010", "00010"],
    "5": ["11111", "10000", "11110", "00001", "00001", "10001", "01110"],
    "6": ["00110", "01000", "10000", "11110", "10001", "10001", "01110"],
    "7": ["11111", "00001", "00010", "00100", "01000", "01000", "01000"],
    "8": ["01110", "10001", "10001", "01110", "10001", "10001", "01110"],
    "9": ["01110", "10001", "10001", "01111", "00001", "00010", "01100"],
    "-": ["00000", "00000", "00000", "11111", "00000", "00000", "00000"],
    ".": ["00000", "00000", "00000", "00000", "00000", "01100", "01100"],
    "(": ["00010", "00100", "01000", "01000", "01000", "00100", "00010"],
    ")": ["01000", "00100", "00010", "00010", "00010", "00100", "01000"],
    " ": ["00000"] * 7,
    "E": ["11111", "10000", "10000", "11110", "10000", "10000", "11111"],
    "L": ["10000", "10000", "10000", "10000", "10000", "10000", "11111"],
    "B": ["11110", "10001", "10001", "11110", "10001", "10001", "11110"],
    "O": ["01110", "10001", "10001", "10001", "10001", "10001", "01110"],
    "a": ["00000", "00000", "01110", "00001", "01111", "10001", "01111"],
    "c": ["00000", "00000", "01110", "10000", "10000", "10001", "01110"],
    "e": ["00000", "00000", "01110", "10001", "11111", "10000", "01110"],
    "h": ["10000", "10000", "10110", "11001", "10001", "10001", "10001"],
    "i": ["00100", "00000", "01100", "00100", "00100", "00100", "01110"],
    "n": ["00000", "00000", "10110", "11001", "10001", "10001", "10001"],
    "o": ["00000", "00000", "01110", "10001", "10001", "10001", "01110"],
    "p": ["00000", "00000", "11110", "10001", "11110", "10000", "10000"],
    "r": ["00000", "00000", "10110", "11001", "10000", "10000", "10000"],
    "s": ["00000", "00000", "01111", "10000", "01110", "00001", "11110"],
    "t": ["01000", "01000", "11100", "01000", "01000", "01001", "00110"],
}
_SCALE = 2


def _text(canvas: np.ndarray, text: str, x: int, y: int, value: int = 0) -> int:
    """Draw `text` with its top-left corner at (x, y); returns the x after it."""
    for ch in text:
        rows = _GLYPHS.get(ch, _GLYPHS[" "])
        for r, row in enumerate(rows):
            for c, bit in enumerate(row):
                if bit == "1":
                    y0, x0 = y + r * _SCALE, x + c * _SCALE
                    canvas[max(0, y0):max(0, y0 + _SCALE), max(0, x0):max(0, x0 + _SCALE)] = value
        x += 6 * _SCALE
    return x


def _text_width(text: str) -> int:
    return 6 * _SCALE * len(text)


def _line(canvas: np.ndarray, x0, y0, x1, y1, value: int, width: int = 2) -> None:
    n = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
    xs = np.rint(np.linspace(x0, x1, n)).astype(int)
    ys = np.rint(np.linspace(y0, y1, n)).astype(int)
    h, w = canvas.shape
    for d in range(width):
        canvas[np.clip(ys + d, 0, h - 1), np.clip(xs, 0, w - 1)] = value


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi - lo < 1e-9:
        lo, hi = lo - 1.0, hi + 1.0
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _label(v: float) -> str:
    return f"{v:.0f}" if abs(v) >= 10 or v == int(v) else f"{v:.1f}"


TRAIN_SHADE, TEST_SHADE = 150, 0


def curve_image(history: list[dict], width: int = 640, height: int = 400) -> np.ndarray:
    """The ELBO per epoch (train in gray, test in black) as a [height, width] uint8 picture."""
    canvas = np.full((height, width), 255, np.uint8)
    left, right, top, bottom = 84, 20, 44, 48
    epochs = [int(r["epoch"]) for r in history]
    series = [(TRAIN_SHADE, [float(r["train_elbo"]) for r in history]),
              (TEST_SHADE, [float(r["test_elbo"]) for r in history])]
    values = [v for _, vs in series for v in vs if math.isfinite(v)]
    _text(canvas, "ELBO (nats)", 8, 10)
    x_legend = width - right - _text_width("train  test") - 2 * 28
    _line(canvas, x_legend, 18, x_legend + 20, 18, TRAIN_SHADE)
    x_after = _text(canvas, "train", x_legend + 26, 12)
    _line(canvas, x_after + 10, 18, x_after + 30, 18, TEST_SHADE)
    _text(canvas, "test", x_after + 36, 12)
    _text(canvas, "epoch", width // 2 - _text_width("epoch") // 2, height - 18)
    x0, x1, y0, y1 = left, width - right, height - bottom, top       # plot box: y grows downwards
    _line(canvas, x0, y0, x1, y0, 0, 1)
    _line(canvas, x0, y1, x0, y0, 0, 1)
    if not epochs or not values:
        return canvas
    lo, hi = min(values), max(values)
    pad = max(1e-6, 0.05 * (hi - lo))
    lo, hi = lo - pad, hi + pad
    e_lo, e_hi = min(epochs), max(epochs)
    e_span = max(1, e_hi - e_lo)

    def px(e):
        return x0 + 10 + (x1 - x0 - 20) * ((e - e_lo) / e_span if e_hi > e_lo else 0.5)

    def py(v):
        return y0 - (y0 - y1) * (v - lo) / (hi - lo)

    for t in _nice_ticks(lo, hi):
        y = int(round(py(t)))
        if y1 <= y <= y0:
            _line(canvas, x0 - 5, y, x0, y, 0, 1)
            canvas[y, x0 + 1:x1:4] = 200                               # a dotted grid line
            s = _label(t)
            _text(canvas, s, x0 - 8 - _text_width(s), y - 7)
    step = max(1, math.ceil(len(epochs) / 10))
    for e in epochs[::step] + ([epochs[-1]] if (len(epochs) - 1) % step else []):
        x = int(round(px(e)))
        _line(canvas, x, y0, x, y0 + 5, 0, 1)
        _text(canvas, str(e), x - _text_width(str(e)) // 2, y0 + 9)
    for shade, vs in series:
        pts = [(px(e), py(v)) for e, v in zip(epochs, vs) if math.isfinite(v)]
        for (xa, ya), (xb, yb) in zip(pts, pts[1:]):
            _line(canvas, xa, ya, xb, yb, shade)
        for x, y in pts:
            xi, yi = int(round(x)), int(round(y))
            canvas[max(0, yi - 2):yi + 3, max(0, xi - 2):xi + 3] = shade
    return canvas


def save_curve(path: str | Path, history: list[dict]) -> Path:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(png_bytes(curve_image(history)))
    tmp.replace(path)               # a viewer never sees half a file
    return path


def epoch_figures(model, test_x, out: Path, epoch: int, history: list[dict]) -> list[Path]:
    """Reconstructions of the first 32 test images after this epoch, and the curve so far."""
    import torch

    folder = Path(out) / "epochs"
    folder.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        was_training = model.training
        model.eval()
        x = test_x[:32]
        mu, _ = model.encode(x)
        recons = torch.sigmoid(model.decode(mu)).float().cpu().numpy()
        if was_training:
            model.train()
    return [save_reconstructions(folder / f"reconstructions_{epoch:03d}.png", x.float().cpu().numpy(), recons, rows=4),
            save_curve(Path(out) / "elbo_curve.png", history)]


@contextlib.contextmanager
def phase(what: str, log=print, console=None):
    """Say what is happening now; on a terminal, a spinner while it runs; then how long it took."""
    t0 = time.perf_counter()
    if console is not None and console.is_terminal:
        with console.status(what + " ..."):
            yield
        console.print(f"{what}: {time.perf_counter() - t0:.1f} s")
    else:
        log(f"{what} ...")
        yield
        log(f"{what}: done in {time.perf_counter() - t0:.1f} s")
