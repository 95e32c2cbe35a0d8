"""Train a per-pixel classifier in plain numpy on image and mask batches streamed by imgbatch.

The segmentation sample set (``sample_data/segmentation/``: shapes on a gray background, with
palette PNG masks) is split 18/6; training batches get a random resized crop and flips, which the
masks follow pixel for pixel. The model is softmax regression on each pixel's colour and its
squares and products (10 features): enough to tell the shapes' hues from the background. Pixels
whose mask holds ``mask_fill`` (padding) are ignored, as an ``ignore_index`` would. Prints, per
epoch, the training loss and pixel accuracy and the validation pixel accuracy.

Usage:
    python scripts/make_sample_data.py      # once: writes sample_data/ (and its segmentation/)
    python scripts/train_segmentation.py --epochs 6
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import numpy.typing as npt

import imgbatch

Floats = npt.NDArray[np.float32]
DEFAULT_LABELS = (
    Path(__file__).resolve().parent.parent / "sample_data" / "segmentation" / "labels.csv"
)
FILL = 255  # the masks' padding value, left out of the loss and the accuracy


def features(images: np.ndarray) -> Floats:
    """Each pixel's features, ``(pixels, 10)``: its RGB in [-1, 1], their squares and products,
    and a constant."""
    rgb = images.reshape(-1, 3).astype(np.float32) * 2 - 1
    r, g, b = rgb[:, 0:1], rgb[:, 1:2], rgb[:, 2:3]
    ones = np.ones_like(r)
    return np.concatenate([rgb, rgb * rgb, r * g, r * b, g * b, ones], axis=1)


def step(weights: Floats, images: np.ndarray, masks: np.ndarray, lr: float) -> tuple[float, float]:
    """One gradient step of the softmax cross-entropy on a batch; its loss and pixel accuracy."""
    x = features(images)
    y = masks.reshape(-1).astype(np.int64)
    keep = y != FILL
    x, y = x[keep], y[keep]
    logits = x @ weights
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    rows = np.arange(len(y))
    loss = float(-np.log(probs[rows, y] + 1e-9).mean())
    accuracy = float((probs.argmax(axis=1) == y).mean())
    probs[rows, y] -= 1
    weights -= lr * (x.T @ probs) / len(y)
    return loss, accuracy


def pixel_accuracy(weights: Floats, loader: imgbatch.Loader) -> float:
    """The share of mask pixels (not padding) the model classifies right over one pass."""
    right = total = 0
    for images, masks in loader:
        y = masks.reshape(-1).astype(np.int64)
        keep = y != FILL
        predicted = (features(images) @ weights).argmax(axis=1)
        right += int((predicted[keep] == y[keep]).sum())
        total += int(keep.sum())
    return right / max(total, 1)


def majority_share(loader: imgbatch.Loader) -> float:
    """The share of mask pixels (not padding) of the most common class: what predicting it
    everywhere scores."""
    counts = np.zeros(256, np.int64)
    for _, masks in loader:
        values = masks.reshape(-1).astype(np.int64)
        counts += np.bincount(values[values != FILL] % 256, minlength=256)
    return float(counts.max() / max(counts.sum(), 1))


def main(argv: list[str] | None = None) -> int:
    """Train, printing one line per epoch; 0."""
    parser = argparse.ArgumentParser(description="Per-pixel softmax regression on masks.")
    parser.add_argument("--labels", type=Path, default=DEFAULT_LABELS, help="manifest file")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--lr", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    manifest = imgbatch.read_manifest(args.labels, mask_column="mask")
    order = np.random.default_rng(args.seed).permutation(len(manifest))
    n_val = max(1, len(manifest) // 4)
    train_rows, val_rows = np.sort(order[n_val:]), np.sort(order[:n_val])
    augment = [
        imgbatch.RandomResizedCrop(scale=(0.3, 1.0)),
        imgbatch.RandomHorizontalFlip(),
        imgbatch.RandomVerticalFlip(),
    ]
    train = imgbatch.Loader(
        manifest.subset(train_rows), batch_size=6, size=args.size, seed=args.seed,
        augment=augment, mask_fill=FILL,
    )  # fmt: skip
    val = imgbatch.Loader(manifest.subset(val_rows), batch_size=6, size=args.size,
                          shuffle=False, mask_fill=FILL)  # fmt: skip
    classes = 4  # background, circle, square, triangle
    weights: Floats = np.zeros((10, classes), np.float32)
    print(f"{len(train_rows)} training and {len(val_rows)} validation scenes, {classes} classes")
    for epoch in range(args.epochs):
        losses, accuracies = [], []
        for images, masks in train:
            loss, accuracy = step(weights, images, masks, args.lr)
            losses.append(loss)
            accuracies.append(accuracy)
        print(
            f"epoch {epoch}: loss {np.mean(losses):.3f}  pixel accuracy {np.mean(accuracies):.3f}"
            f"  validation pixel accuracy {pixel_accuracy(weights, val):.3f}"
        )
    print(f"the most common class alone scores {majority_share(val):.3f} on validation")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
