"""Train a tiny CNN with PyTorch on batches streamed by imgbatch, through its torch adapter.

A seeded, stratified 80/20 split of the manifest; a shuffled ``Loader`` (``layout="chw"``) for
training and an ordered one for validation, each wrapped in a ``TorchDataset`` and read by a
``DataLoader(batch_size=None)`` (imgbatch already batches, and decodes in its own threads). The
training loader augments in its decode threads (RandomResizedCrop, horizontal flip, colour
jitter; each sample's draws from (seed, epoch, row)); validation uses the evaluation crop
(``fit="crop", crop_fraction=0.875``). Prints one line per epoch, then the validation accuracy
and chance level.

Usage:
    pip install torch==2.13.0                # the CPU build; a bare "torch" pulls CUDA
    python scripts/train_torch.py --epochs 5 --size 32
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn
from torch.utils.data import DataLoader

import imgbatch
from imgbatch.integrations.torch import TorchDataset, pinning_available, require_chw

Ints = npt.NDArray[np.int64]
DEFAULT_LABELS = Path(__file__).resolve().parent.parent / "sample_data" / "labels.csv"


def split(labels: Ints, *, val_fraction: float, seed: int) -> tuple[Ints, Ints]:
    """Return (train, validation) indices, stratified by class and reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    train: list[Ints] = []
    val: list[Ints] = []
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        n_val = max(1, round(len(members) * val_fraction))
        val.append(members[:n_val])
        train.append(members[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def tiny_cnn(channels: int, n_classes: int) -> nn.Module:
    """Two conv blocks and a linear head: enough for the sample scenes at 32 px."""
    return nn.Sequential(
        nn.Conv2d(channels, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(4),
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, n_classes),
    )


def arguments(argv: list[str] | None) -> argparse.Namespace:
    """The command line: where the data is and the training's settings."""
    parser = argparse.ArgumentParser(description="A tiny CNN in PyTorch on imgbatch batches.")
    parser.add_argument("--labels", type=Path, default=DEFAULT_LABELS, help="manifest file")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--size", type=int, default=32, help="image side in pixels")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-augment", dest="augment", action="store_false", help="train without augmentation"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, train, print one line per epoch and the final validation accuracy."""
    args = arguments(argv)
    m = imgbatch.read_manifest(args.labels)
    if m.classes is None:
        msg = f"{args.labels} has numeric labels; this demo needs class names"
        raise SystemExit(msg)
    print(f"classes: {m.classes}")
    train_idx, val_idx = split(np.asarray(m.labels), val_fraction=0.2, seed=args.seed)
    print(f"{len(train_idx)} train / {len(val_idx)} validation images at {args.size}px")

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    pin = pinning_available()  # page-locked batches only help a copy to an accelerator

    def batches(indices: Ints, *, train: bool) -> DataLoader[tuple[torch.Tensor, ...]]:
        images: dict[str, Any] = {"fit": "crop", "crop_fraction": 0.875}  # evaluation
        if train and args.augment:
            images = {
                "augment": [
                    imgbatch.RandomResizedCrop(scale=(0.25, 1.0)),
                    imgbatch.RandomHorizontalFlip(),
                    imgbatch.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2),
                ]
            }
        loader = imgbatch.Loader(
            m.subset(indices),
            batch_size=args.batch_size,
            size=args.size,
            shuffle=train,
            seed=args.seed,
            layout="chw",  # (N, C, H, W), as nn.Conv2d expects
            mean=imgbatch.IMAGENET_MEAN,
            std=imgbatch.IMAGENET_STD,
            **images,
        )
        return DataLoader(TorchDataset(require_chw(loader), pin_memory=pin), batch_size=None)

    train = batches(train_idx, train=True)
    val = batches(val_idx, train=False)

    torch.manual_seed(args.seed)
    model = tiny_cnn(3, len(m.classes)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)

    val_acc = 0.0
    for epoch in range(1, args.epochs + 1):
        started = time.perf_counter()
        model.train()
        loss_sum = hits = seen = 0.0
        for batch_images, batch_labels in train:  # each pass: a new permutation of the split
            images = batch_images.to(device, non_blocking=pin)
            labels = batch_labels.to(device, non_blocking=pin)
            logits = model(images)
            loss = nn.functional.cross_entropy(logits, labels)
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call, unused-ignore]
            optimizer.step()
            loss_sum += loss.item() * len(labels)
            hits += (logits.argmax(1) == labels).sum().item()
            seen += len(labels)
        model.eval()
        val_hits = val_seen = 0
        with torch.no_grad():
            for images, labels in val:
                predicted = model(images.to(device)).argmax(1).cpu()
                val_hits += int((predicted == labels).sum())
                val_seen += len(labels)
        val_acc = val_hits / max(val_seen, 1)
        print(
            f"epoch {epoch:2d}  train loss {loss_sum / seen:.4f}  train acc {hits / seen:.3f}  "
            f"val acc {val_acc:.3f}  ({time.perf_counter() - started:.1f} s)"
        )
    print(f"final validation accuracy {val_acc:.3f} (chance {1 / len(m.classes):.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
