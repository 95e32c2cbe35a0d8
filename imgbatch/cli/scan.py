"""``imgbatch scan``: check every row of a label file; print the report, write a clean copy."""

from __future__ import annotations

import argparse
import json

from ..errors import ImgbatchError
from ..manifest import Manifest, as_manifest
from ..scan import ScanReport, scan, write_clean
from ..scan.clean import check_out
from ..scan.report import plural
from ..urls import is_url
from .common import LABELS_HELP, add_label_options, label_options, size_arg, usage_error

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``imgbatch scan`` with the ``imgbatch`` command's subparsers."""
    p = subparsers.add_parser(
        "scan",
        help="check every row before training: bad files, duplicates, label typos, sizes",
        description=(
            "Check every row of a label file: the file is there, not empty, and decodes fully. "
            "Also reports duplicate paths, class names that look like typos, the class "
            "histogram and image sizes. Exit status: 0 clean, 1 problems found, 2 usage error."
        ),
    )
    p.add_argument("labels", help=LABELS_HELP)
    add_label_options(p)
    p.add_argument("--quick", action="store_true", help="read headers only (no full decode)")
    p.add_argument("--size", type=size_arg, default=None, help="count images smaller than N or HxW")
    p.add_argument("--workers", type=int, default=None, help="checking threads (default: cores)")
    p.add_argument("--out", default=None, help="write a copy of the label file without bad rows")
    p.add_argument(
        "--force", action="store_true", help="let --out overwrite a file (never the label file)"
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no tqdm bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``imgbatch scan``: 0 when clean, 1 when problems were found, 2 for a usage error."""
    if args.workers is not None and args.workers < 1:
        return usage_error("scan", f"--workers must be a positive int, got {args.workers}")
    manifest = as_manifest(args.labels, **label_options(args))
    if args.out is not None and is_url(manifest.source or ""):
        return usage_error("scan", "--out writes a copy of a local label file, not of a URL")
    if args.out is not None:
        refusal = _refusal(manifest, args.out, force=args.force)
        if refusal:
            return usage_error("scan", refusal)
    report = scan(manifest, quick=args.quick, workers=args.workers, progress=args.progress,
                  size=args.size)  # fmt: skip
    written: int | None = None
    note = ""
    if args.out is not None:
        try:
            written, note = _write(report, args.out, force=args.force)
        except FileExistsError:  # it appeared while the scan ran
            return usage_error("scan", f"{args.out} exists; pass --force to overwrite it")
    if args.json:
        data = report.to_dict()
        if args.out is not None:
            data["out"] = {"path": args.out, "rows": written, "note": note}
        print(json.dumps(data, indent=2))
    else:
        print(report.to_text())
        if note:
            print(note)
    return 0 if report.clean else 1


def _write(report: ScanReport, out: str, *, force: bool) -> tuple[int | None, str]:
    """Write the clean copy: the rows written (None when nothing was) and a note saying so."""
    try:
        written = write_clean(report, out, force=force)
    except ImgbatchError as e:
        return None, f"nothing written to {out}: {e}"
    return written, _written_note(report, out, written)


def _refusal(manifest: Manifest, out: str, *, force: bool) -> str | None:
    """Why ``--out`` cannot be written (checked before the scan, which may take long)."""
    try:
        check_out(manifest, out, force=force)
    except FileExistsError:
        return f"{out} exists; pass --force to overwrite it"
    except ValueError as e:
        return str(e).replace("out must", "--out must", 1)
    return None


def _written_note(report: ScanReport, out: str, written: int) -> str:
    bad = len({p.row for p in report.problems})
    extra = len(report.drop_rows()) - bad
    note = (
        f"wrote {out}: {plural(written, 'row')} "
        f"(left out {plural(bad, 'bad file')} and {plural(extra, 'repeated row')})"
    )
    if report.typos:
        note += "\n  rows with suspected label typos are kept: fix their labels by hand"
    if report.quick:
        note += "\n  --quick read headers only: scan without it to find truncated or corrupt files"
    return note
