"""The ``imgbatch`` command: ``info``, ``iterate`` and ``show``.

Every subcommand takes a label file (csv, tsv, txt, jsonl) or a class-per-folder tree. Exit status
is 0 on success, 1 when imgbatch reports an error (bad manifest, unreadable image), 2 for a usage
error.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence

import cv2
import numpy as np

from . import __version__
from .decode import COLORS, FITS, INTERPOLATIONS
from .errors import ImgbatchError
from .loader import DTYPES, LAYOUTS, ON_ERROR, Loader
from .manifest import Manifest, as_manifest

__all__ = ["main"]

# Subcommands that live in their own modules; each has add_parser(subparsers) and sets
# ``func`` (args -> exit status) as its parser's default.
_MODULE_COMMANDS = ("imgbatch.scan", "imgbatch.benchmark")


def _size(text: str) -> int | tuple[int, int]:
    """``224`` or ``224x160`` (height x width)."""
    try:
        if "x" in text.lower():
            height, width = (int(t) for t in text.lower().split("x"))
            return height, width
        return int(text)
    except ValueError:
        msg = f"size must be N or HxW, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None


def _add_pipeline_options(p: argparse.ArgumentParser, *, batch_size: int, size: str) -> None:
    p.add_argument("labels", help="label file (csv, tsv, txt, jsonl) or class-per-folder tree")
    p.add_argument("--batch-size", type=int, default=batch_size, help="default: %(default)s")
    p.add_argument("--size", type=_size, default=_size(size), help="N or HxW; default: %(default)s")
    p.add_argument("--fit", choices=FITS, default="stretch")
    p.add_argument("--color", choices=COLORS, default="rgb")
    p.add_argument("--interpolation", choices=list(INTERPOLATIONS), default=None)
    p.add_argument("--workers", type=int, default=None, help="decode threads (default: cores)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-shuffle", dest="shuffle", action="store_false")
    p.add_argument("--on-error", choices=ON_ERROR, default="raise")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imgbatch", description="Stream image batches from a label file."
    )
    parser.add_argument("--version", action="version", version=f"imgbatch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = sub.add_parser("info", help="rows, classes with counts, and file formats")
    info.add_argument("labels", help="label file or class-per-folder tree")
    info.set_defaults(func=_info)

    iterate = sub.add_parser("iterate", help="run epochs through the loader: images/s, memory")
    _add_pipeline_options(iterate, batch_size=32, size="224")
    iterate.add_argument("--epochs", type=int, default=1)
    iterate.add_argument("--prefetch", type=int, default=2)
    iterate.add_argument("--layout", choices=LAYOUTS, default="hwc")
    iterate.add_argument("--dtype", choices=DTYPES, default="float32")
    iterate.add_argument("--no-progress", dest="progress", action="store_false")
    iterate.set_defaults(func=_iterate)

    show = sub.add_parser("show", help="contact sheet of one batch, as the model will see it")
    _add_pipeline_options(show, batch_size=16, size="128")
    show.add_argument("--out", required=True, help="PNG (or JPEG) file to write")
    show.add_argument("--cols", type=int, default=None, help="tiles per row (default: square)")
    show.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    show.set_defaults(func=_show)
    for name in _MODULE_COMMANDS:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``imgbatch`` with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse exits 2 on usage errors, 0 for --help/--version
        return int(e.code or 0)
    try:
        status: int = args.func(args)
    except ImgbatchError as e:
        print(f"imgbatch: error: {e}", file=sys.stderr)
        return 1
    except (ValueError, TypeError) as e:  # an option value the library refused
        print(f"imgbatch: error: {e}", file=sys.stderr)
        return 2
    return status


def _info(args: argparse.Namespace) -> int:
    m = as_manifest(args.labels)
    print(f"{m.source}: {m.format}, {len(m):,} rows, paths relative to {m.paths.root}")
    if m.classes is not None:
        counts = np.bincount(m.labels, minlength=len(m.classes))
        width = max(len(c) for c in m.classes)
        print(f"classes: {len(m.classes)}")
        for name, n in zip(m.classes, counts, strict=True):
            print(f"  {name:<{width}}  {n:>8,}  {100 * n / len(m):5.1f}%")
    elif m.labels.dtype.kind == "i":
        values, counts = np.unique(m.labels, return_counts=True)
        print(f"integer labels: {len(values)} distinct, {values.min()}..{values.max()}")
        for value, n in list(zip(values.tolist(), counts.tolist(), strict=True))[:20]:
            print(f"  {value:>8}  {n:>8,}  {100 * n / len(m):5.1f}%")
        if len(values) > 20:
            print(f"  ... {len(values) - 20} more")
    else:
        lab = m.labels
        print(f"numeric labels: min {lab.min():g}, max {lab.max():g}, mean {lab.mean():g}")
    exts = Counter(os.path.splitext(m.paths.relative(i))[1].lower() or "(none)"
                   for i in range(len(m)))  # fmt: skip
    print("file types: " + ", ".join(f"{e} {n:,}" for e, n in exts.most_common()))
    return 0


def _peak_rss_mb() -> float | None:
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes vs KiB


def _loader(args: argparse.Namespace, **extra: object) -> Loader:
    return Loader(
        args.labels,
        batch_size=args.batch_size,
        size=args.size,
        shuffle=args.shuffle,
        seed=args.seed,
        fit=args.fit,
        color=args.color,
        interpolation=args.interpolation,
        workers=args.workers,
        on_error=args.on_error,
        **extra,  # type: ignore[arg-type]
    )


def _iterate(args: argparse.Namespace) -> int:
    if args.epochs < 1:
        print(f"imgbatch: error: --epochs must be at least 1, got {args.epochs}", file=sys.stderr)
        return 2
    loader = _loader(
        args, prefetch=args.prefetch, layout=args.layout, dtype=args.dtype, progress=args.progress
    )
    images = 0
    start = time.perf_counter()
    first: float | None = None
    for _ in range(args.epochs):
        for x, _y in loader:
            if first is None:
                first = time.perf_counter() - start
            images += len(x)
    elapsed = time.perf_counter() - start
    print(f"{loader!r}")
    print(
        f"{args.epochs} epoch(s), {images:,} images in {elapsed:.2f} s: "
        f"{images / elapsed:,.0f} images/s; first batch after {first or 0:.3f} s"
    )
    peak = _peak_rss_mb()
    if peak is not None:
        print(f"peak memory (RSS): {peak:,.0f} MB")
    if loader.errors:
        print(f"skipped {len(loader.errors)} file(s); first: {loader.errors[0]}")
    return 0


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


def _show(args: argparse.Namespace) -> int:
    out = args.out
    if os.path.exists(out) and not args.force:
        print(f"imgbatch: error: {out} exists; pass --force to overwrite it", file=sys.stderr)
        return 1
    loader = _loader(args, dtype="uint8", prefetch=0)
    images, labels = next(iter(loader))
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    elif args.color == "bgr":
        images = images[..., ::-1]  # the model gets BGR; a person wants to see the scene
    m: Manifest = loader.manifest
    captions = [m.classes[int(v)] if m.classes is not None else f"{v:g}" for v in labels.tolist()]
    cols = args.cols or max(1, int(np.ceil(np.sqrt(len(images)))))
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
        f"wrote {out}: {len(images)} images of {shape} (fit={args.fit}, color={args.color}), "
        f"{sheet.shape[1]}x{sheet.shape[0]} px"
    )
    return 0
