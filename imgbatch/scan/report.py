"""What :func:`~imgbatch.scan.scan` found: the report, its JSON data and its text."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..manifest import Manifest
from .findings import REASONS, Duplicate, LabelTypo, Problem, SizeStats

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
        if self.imbalanced:
            verdict += " (and a class imbalance warning)"
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
        if self.histogram is None:
            return ["", "labels: numeric (regression): no class histogram"]
        ranked = sorted(self.histogram.items(), key=lambda kv: (-kv[1], kv[0]))
        suspects = {t.label: t.like for t in self.typos}
        out = ["", f"classes: {len(ranked)}"]
        table = []
        shown = ranked if len(ranked) <= _SHOWN else ranked[:10] + ranked[-5:]
        for k, (name, n) in enumerate(shown):
            if len(shown) < len(ranked) and k == 10:
                table.append(("...", f"{len(ranked) - 15} more", "", ""))
            note = f"suspected typo of {suspects[name]!r}" if name in suspects else ""
            share = f"{100 * n / max(self.rows, 1):.1f}%"
            table.append((_printable(name), f"{n:,}", share, note))
        out.extend(_table(table, header=False, right={1, 2}))
        if self.imbalanced:
            usable = [(n, name) for name, n in ranked if name not in suspects and n]
            (big, big_name), (small, small_name) = max(usable), min(usable)
            out.append(
                f"warning: classes are imbalanced: {big_name!r} has {big:,} rows, {small_name!r} "
                f"{small:,} ({self.imbalance:.0f}x, more than {IMBALANCE_RATIO:g}x);"
            )
            out.append("  consider more data for the small classes, resampling or class weights")
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


def plural(n: int, word: str) -> str:
    """``n`` (with thousands separators) and ``word``, with an ``s`` unless ``n`` is 1.

    Example:
        >>> plural(1, "row"), plural(1200, "row")
        ('1 row', '1,200 rows')
    """
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _lines(lines: tuple[int, ...]) -> str:
    text = ", ".join(str(n) if n else "-" for n in lines[:_SHOWN])
    return text + (f", ... ({len(lines) - _SHOWN} more)" if len(lines) > _SHOWN else "")


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
