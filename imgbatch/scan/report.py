"""What :func:`~imgbatch.scan.scan` found: the report, its JSON data and its text."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

from .._util import shorten
from ..manifest import Manifest
from .findings import REASONS, Duplicate, LabelTypo, Problem, SizeStats
from .labels import BackslashPaths, LabelRange, backslash_paths, label_range

__all__ = ["IMBALANCE_RATIO", "ScanReport", "plural"]

#: The class histogram warns when the largest class has more than this many times the rows of
#: the smallest.
IMBALANCE_RATIO = 10.0
# Rows listed per reason (and lines per duplicate or typo) in the text report; --json has all.
_SHOWN = 20


@dataclass(frozen=True)
class ScanReport:
    """What :func:`scan` found.

    Attributes:
        source: the label file or folder scanned (None for a manifest built in code).
        format: the manifest's format.
        rows: rows in the manifest.
        quick: True when only headers were read.
        problems: rows whose file cannot be used, in manifest order.
        duplicates: paths named by more than one row.
        typos: class names that look like typos of other classes.
        histogram: rows per class (class name, or the integer label as text); None for numeric
            (regression) labels.
        imbalance: rows of the largest class over rows of the smallest, not counting suspected
            typos; None with fewer than two classes.
        sizes: image size statistics; None when no image size is known.
        seconds: how long the checks took.
        manifest: the manifest scanned (used by :func:`write_clean`).

    Found from the manifest when first asked for: :attr:`label_range` (kind, range, negative
    integer labels, classes without rows) and :attr:`backslash_paths`. Both are warnings, like
    the imbalance: they do not make a report unclean.
    """

    source: str | None
    format: str | None
    rows: int
    quick: bool
    problems: tuple[Problem, ...]
    duplicates: tuple[Duplicate, ...]
    typos: tuple[LabelTypo, ...]
    histogram: dict[str, int] | None
    imbalance: float | None
    sizes: SizeStats | None
    seconds: float
    manifest: Manifest = field(repr=False, compare=False)

    @property
    def clean(self) -> bool:
        """True when no file problem, duplicate path or suspected label typo was found."""
        return not (self.problems or self.duplicates or self.typos)

    @property
    def imbalanced(self) -> bool:
        """True when the imbalance ratio is above :data:`IMBALANCE_RATIO`."""
        return self.imbalance is not None and self.imbalance > IMBALANCE_RATIO

    @cached_property
    def label_range(self) -> LabelRange:
        """The labels' kind and range, negative integer labels, classes without rows."""
        return label_range(self.manifest)

    @cached_property
    def backslash_paths(self) -> BackslashPaths:
        """Rows whose path holds a backslash (found when a file is missing as written)."""
        return backslash_paths(self.manifest)

    def warnings(self) -> list[str]:
        """The warnings raised, in words: ``["a class imbalance warning", ...]``."""
        found = [
            (self.imbalanced, "a class imbalance warning"),
            (self.label_range.negative > 0, "a negative label warning"),
            (self.backslash_paths.rows > 0, "a backslash path warning"),
        ]
        return [what for raised, what in found if raised]

    def drop_rows(self) -> list[int]:
        """Rows :func:`write_clean` leaves out: bad files, and duplicates after the first."""
        drop = {p.row for p in self.problems}
        for duplicate in self.duplicates:
            drop.update(duplicate.rows[1:])
        return sorted(drop)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready data."""
        return {
            "source": self.source,
            "format": self.format,
            "rows": self.rows,
            "quick": self.quick,
            "clean": self.clean,
            "seconds": round(self.seconds, 3),
            "problems": [asdict(p) for p in self.problems],
            "problem_counts": {r: n for r in REASONS if (n := self._count(r))},
            "duplicates": [{**asdict(d), "conflict": d.conflict} for d in self.duplicates],
            "typos": [asdict(t) for t in self.typos],
            "histogram": self.histogram,
            "imbalance": self.imbalance,
            "imbalanced": self.imbalanced,
            "sizes": None if self.sizes is None else self.sizes.to_dict(),
            "labels": self.label_range.to_dict(),
            "backslash_paths": {
                **asdict(self.backslash_paths),
                "lines": list(self.backslash_paths.lines),
            },
            "drop_rows": self.drop_rows(),
        }

    def _count(self, reason: str) -> int:
        return sum(p.reason == reason for p in self.problems)

    def to_text(self) -> str:
        """The report as ``imgbatch scan`` prints it."""
        out: list[str] = []
        mode = "headers only (--quick)" if self.quick else "full decode"
        where = _printable(self.source or "manifest")
        out.append(f"scanned {where}: {self.format or 'rows'}, {self.rows:,} rows, {mode}")
        out.extend(self._problems_text())
        out.extend(self._duplicates_text())
        out.extend(self._typos_text())
        out.extend(self._histogram_text())
        out.extend(self._labels_text())
        out.extend(self._sizes_text())
        counts = [
            plural(n, what)
            for n, what in (
                (len(self.problems), "bad file"),
                (len(self.duplicates), "duplicate path"),
                (len(self.typos), "suspected label typo"),
            )
            if n
        ]
        verdict = "clean" if self.clean else "problems: " + ", ".join(counts)
        if self.warnings():
            verdict += f" (and {' and '.join(self.warnings())})"
        out.append("")
        out.append(f"{verdict}; {self.seconds:.2f} s")
        return "\n".join(out)

    def _problems_text(self) -> list[str]:
        if not self.problems:
            return []
        out = ["", f"{plural(len(self.problems), 'file')} cannot be used:"]
        table = [("reason", "line", "file", "detail")]
        for reason in REASONS:
            rows = [p for p in self.problems if p.reason == reason]
            for p in rows[:_SHOWN]:
                row = (reason, str(p.line or "-"), _printable(p.path), _printable(p.detail))
                table.append(row)
            if len(rows) > _SHOWN:
                table.append((reason, "", f"... {len(rows) - _SHOWN} more (--json lists all)", ""))
        out.extend(_table(table, right={1}))
        return out

    def _duplicates_text(self) -> list[str]:
        if not self.duplicates:
            return []
        out = ["", f"{plural(len(self.duplicates), 'path')} on more than one row:"]
        table = []
        for d in self.duplicates[:_SHOWN]:
            labels = _printable(", ".join(dict.fromkeys(d.labels)))
            verdict = f"labels conflict: {labels}" if d.conflict else f"same label: {labels}"
            table.append((_printable(d.path), "lines " + _lines(d.lines), verdict))
        out.extend(_table(table, header=False))
        if len(self.duplicates) > _SHOWN:
            out.append(f"  ... {len(self.duplicates) - _SHOWN} more (--json lists all)")
        return out

    def _typos_text(self) -> list[str]:
        if not self.typos:
            return []
        out = ["", f"{plural(len(self.typos), 'suspected label typo')}:"]
        for t in self.typos:
            where = f"{plural(t.count, 'row')}, line{'s' if len(t.lines) > 1 else ''}"
            why = " (differs only in case, spaces or punctuation)" if t.how == "case" else ""
            out.append(
                f"  {t.label!r} ({where} {_lines(t.lines)}) looks like {t.like!r} "
                f"({plural(t.like_count, 'row')}){why}"
            )
        return out

    def _histogram_text(self) -> list[str]:
        if self.histogram is None and self.label_range.kind == "none":
            return ["", "labels: none (a path-only list): no class histogram"]
        if self.histogram is None:
            return ["", "labels: numeric (regression): no class histogram"]
        ranked = sorted(self.histogram.items(), key=lambda kv: (-kv[1], kv[0]))
        suspects = {t.label: t.like for t in self.typos}
        out = ["", f"classes: {len(ranked)}"]
        classes = self.manifest.classes
        ids = {name: f"id {i}" for i, name in enumerate(classes)} if classes is not None else {}
        table: list[tuple[str, ...]] = []
        shown = ranked if len(ranked) <= _SHOWN else ranked[:10] + ranked[-5:]
        for k, (name, n) in enumerate(shown):
            if len(shown) < len(ranked) and k == 10:
                table.append(("", "...", f"{len(ranked) - 15} more", "", ""))
            note = f"suspected typo of {suspects[name]!r}" if name in suspects else ""
            share = f"{100 * n / max(self.rows, 1):.1f}%"
            table.append((ids.get(name, ""), _printable(name), f"{n:,}", share, note))
        if not ids:  # integer labels: the label is the id
            table = [row[1:] for row in table]
        out.extend(_table(table, header=False, right={0, 2, 3} if ids else {1, 2}))
        if self.imbalanced:
            usable = [(n, name) for name, n in ranked if name not in suspects and n]
            (big, big_name), (small, small_name) = max(usable), min(usable)
            out.append(
                f"warning: classes are imbalanced: {big_name!r} has {big:,} rows, {small_name!r} "
                f"{small:,} ({self.imbalance:.0f}x, more than {IMBALANCE_RATIO:g}x);"
            )
            out.append("  consider more data for the small classes, resampling or class weights")
        return out

    def _labels_text(self) -> list[str]:
        """The label range and ids, classes without rows, negative labels, backslash paths."""
        r, out = self.label_range, [""]
        if r.kind == "class":
            out.append(f"class ids: 0..{(r.classes or 1) - 1} (id = position in the classes)")
            if r.empty:
                names = ", ".join(
                    f"{_printable(shorten(n, 60))} (id {i})" for i, n in r.empty[:_SHOWN]
                )
                more = f", ... ({len(r.empty) - _SHOWN} more)" if len(r.empty) > _SHOWN else ""
                out.append(
                    f"{plural(len(r.empty), 'class', 'classes')} with no rows: {names}{more}"
                )
        elif r.kind == "int":
            out.append(f"integer labels: {r.low}..{r.high}")
            if r.negative:
                out.append(
                    f"warning: {plural(r.negative, 'row')} with a negative label "
                    f"({_lines(r.negative_lines, r.negative)}): never a class id; a 'no label' "
                    "marker? drop those rows or give them a class"
                )
        elif r.kind == "none":
            out.append("no labels: a path-only list")
        else:
            out.append(f"numeric labels: {r.low:g}..{r.high:g}")
        b = self.backslash_paths
        if b.rows:
            out.append(
                f"warning: {plural(b.rows, 'path')} written with backslashes "
                f"({_lines(b.lines, b.rows)}; the first: {_printable(shorten(b.first or '', 80))})"
                ": where one is not found as written, it is read with '/'; write paths with '/'"
            )
        return out

    def _sizes_text(self) -> list[str]:
        s = self.sizes
        if s is None:
            return ["", "image sizes: none known"]
        out = [
            "",
            f"image sizes ({s.images:,} images): "
            f"height {s.height[0]}..{s.height[2]} (median {s.height[1]:g}), "
            f"width {s.width[0]}..{s.width[2]} (median {s.width[1]:g})",
        ]
        if s.target is not None:
            target = f"{s.target[0]}x{s.target[1]}"
            out.append(f"  {plural(s.smaller or 0, 'image')} smaller than {target} (HxW)")
        return out


def _printable(text: str) -> str:
    """``text`` with what no terminal can print (a file name's undecodable bytes) escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def plural(n: int, word: str, words: str | None = None) -> str:
    """``n`` (with thousands separators) and ``word``, with an ``s`` (or ``words``) unless ``n``
    is 1.

    Example:
        >>> plural(1, "row"), plural(1200, "row"), plural(2, "class", "classes")
        ('1 row', '1,200 rows', '2 classes')
    """
    return f"{n:,} " + (word if n == 1 else words or word + "s")


def _lines(lines: tuple[int, ...], count: int | None = None) -> str:
    """``3, 7, ... (12 more)``: the first of the lines of ``count`` rows (default: one row per
    line given); with a count, after ``line`` or ``lines``."""
    total = len(lines) if count is None else count
    shown = lines[:_SHOWN]
    text = ", ".join(str(n) if n else "-" for n in shown)
    if total > len(shown):
        text += f", ... ({total - len(shown):,} more)"
    if count is None:
        return text
    return ("line " if total == 1 else "lines ") + text


def _table(
    rows: Sequence[Sequence[str]], *, header: bool = True, right: Collection[int] = ()
) -> list[str]:
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    out = []
    for row in rows:
        cells = [
            cell.rjust(widths[c]) if c in right else cell.ljust(widths[c])
            for c, cell in enumerate(row)
        ]
        out.append(("  " + "  ".join(cells)).rstrip())
    if header:
        out.insert(1, "  " + "  ".join("-" * w for w in widths))
    return out
