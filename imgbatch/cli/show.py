"""``imgbatch show``: a contact sheet of one batch, as the model will see it."""

from __future__ import annotations

import argparse
import os
import sys

import cv2
import numpy as np

from ..loader import Loader
from ..manifest import Manifest
from ..mask import overlay
from .common import add_pipeline_options, loader_from_args

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``imgbatch show``."""
    p = subparsers.add_parser("show", help="contact sheet of one batch, as the model will see it")
    add_pipeline_options(p, batch_size=16, size="128")
    p.add_argument("--out", required=True, help="PNG (or JPEG) file to write")
    p.add_argument(
        "--mask-column", default=None,
        help="column of segmentation mask images: each mask drawn over its image",
    )  # fmt: skip
    p.add_argument("--cols", type=int, default=None, help="tiles per row (default: square)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument(
        "--draws", type=int, default=6,
        help="with --augment: columns of draws beside each image as it is (default: 6)",
    )  # fmt: skip
    p.set_defaults(func=run)


def _contact_sheet(images: np.ndarray, captions: list[str], cols: int) -> np.ndarray:
    """Tiles in rows of ``cols`` with a caption strip under each; (H, W, 3) uint8 RGB."""
    n, height, width = images.shape[:3]
    rows = -(-n // cols)
    strip = 18
    sheet = np.full((rows * (height + strip), cols * width, 3), 255, np.uint8)
    for k in range(n):
        r, c = divmod(k, cols)
        top, left = r * (height + strip), c * width
        sheet[top : top + height, left : left + width] = images[k]
        cv2.putText(
            sheet, captions[k][: max(1, width // 8)], (left + 2, top + height + 13),
            cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA,
        )  # fmt: skip
    return sheet


def _batch(args: argparse.Namespace) -> tuple[np.ndarray, list[str], int]:
    """The first batch as the model sees it: images, captions, tiles per row."""
    loader = loader_from_args(args, dtype="uint8", prefetch=0, mask_column=args.mask_column)
    images, labels = _shown(loader, next(iter(loader)), args.color)
    captions = _captions(loader.manifest, labels)
    return images, captions, args.cols or max(1, int(np.ceil(np.sqrt(len(images)))))


def _shown(
    loader: Loader, batch: tuple[np.ndarray, ...], color: str
) -> tuple[np.ndarray, np.ndarray]:
    """A batch as it is shown: with masks, each drawn over its image, and the class ids in it
    as its caption (an object array of strings)."""
    images, second = batch[0], batch[1]
    if loader.masks is None:
        return images, second
    fill = loader.masks.fill
    shown = overlay(images, second, fill=fill, order="bgr" if color == "bgr" else "rgb")
    # The class ids in each mask, but the background (0) and the padding.
    captions = [
        " ".join(str(v) for v in np.unique(m).tolist() if v not in (0, fill)) for m in second
    ]
    return shown, np.array(captions, dtype=object)


def _draws(args: argparse.Namespace) -> tuple[np.ndarray, list[str], int]:
    """Each image of the first batch as it is, then under ``--draws`` augmentation draws (one
    epoch each: the draws come from (seed, epoch, row)), one image per row."""
    if args.draws < 1:
        msg = f"--draws must be a positive int, got {args.draws}"
        raise ValueError(msg)
    # No shuffling: the same rows in every epoch, so each row of the sheet shows one image.
    masks = {"mask_column": args.mask_column}
    loader = loader_from_args(args, dtype="uint8", prefetch=0, shuffle=False, **masks)
    plain_loader = loader_from_args(
        args, dtype="uint8", prefetch=0, shuffle=False, augment=None, **masks
    )
    plain, labels = _shown(plain_loader, next(iter(plain_loader)), args.color)
    draws = (_shown(loader, loader.batch(0, epoch=e), args.color)[0] for e in range(args.draws))
    columns = [plain, *draws]
    images = np.stack(columns, axis=1).reshape(-1, *plain.shape[1:])
    names = _captions(loader.manifest, labels)
    captions = [n if d == 0 else f"draw {d}" for n in names for d in range(args.draws + 1)]
    return images, captions, args.draws + 1


def _captions(m: Manifest, labels: np.ndarray) -> list[str]:
    """A caption per image: its class name(s) (``cat|dog`` for multi-hot rows), its number(s),
    or nothing in a path-only list; with masks, the captions already made."""
    if labels.dtype == object:
        return [str(v) for v in labels.tolist()]
    if not m.labeled:
        return [""] * len(labels)
    if labels.ndim == 2:
        if m.classes is not None:
            return ["|".join(m.classes[i] for i in np.flatnonzero(row)) for row in labels]
        return [", ".join(f"{v:g}" for v in row.tolist()) for row in labels]
    return [m.classes[int(v)] if m.classes is not None else f"{v:g}" for v in labels.tolist()]


def run(args: argparse.Namespace) -> int:
    """Write the contact sheet; 0, or 1 when ``--out`` exists (without ``--force``)."""
    out = args.out
    if os.path.exists(out) and not args.force:
        print(f"imgbatch: error: {out} exists; pass --force to overwrite it", file=sys.stderr)
        return 1
    images, captions, cols = _draws(args) if args.augment else _batch(args)
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    elif args.color == "bgr":
        images = images[..., ::-1]  # the model gets BGR; a person wants to see the scene
    sheet = _contact_sheet(images, captions, cols)
    ext = os.path.splitext(out)[1].lower() or ".png"
    ok, encoded = cv2.imencode(ext, cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    if not ok:
        print(f"imgbatch: error: cannot encode {ext} images; use .png", file=sys.stderr)
        return 1
    with open(out, "wb") as f:
        f.write(encoded.tobytes())
    shape = f"{images.shape[1]}x{images.shape[2]}"
    print(
        f"wrote {out}: {len(images)} images of {shape} (fit={args.fit}, color={args.color}"
        f"{', augmented' if args.augment else ''}), "
        f"{sheet.shape[1]}x{sheet.shape[0]} px"
    )
    return 0
