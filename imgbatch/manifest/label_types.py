"""Label typing: ``label_type=``, pinned ``classes=``, and odd labels refused by line.

A label file's labels are integers, numbers or class names. In ``"auto"`` mode the file says
which, and a few odd rows must not decide it for the rest: a typo (``3O``) in a file of integer
class ids would otherwise turn every label into a class name and shift the ids, and one ``nan``
would turn a regression file into as many classes as it has distinct values. So labels that are
numbers but for at most one row in :data:`FEW_ODD` are an error naming the first odd line, and a
``nan`` or ``inf`` is never a label unless asked for (``label_type="class"`` or ``classes=``).
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .._util import shorten
from ..errors import ManifestError

__all__ = [
    "FEW_ODD",
    "FLOAT_CHARS",
    "INT_CHARS",
    "LABEL_TYPES",
    "LabelCodes",
    "check_classes",
    "check_label_type",
    "class_labels",
    "class_names",
    "not_a_class",
    "quote",
]

#: What ``label_type=`` accepts.
LABEL_TYPES = ("auto", "class", "int", "float")
#: In ``"auto"`` mode, labels that are numbers but for at most one row in this many are an error
#: (the odd rows are typos, not class names). One in 20 (5%) catches a handful of typos in a file
#: of any size, while a file needs at least 19 numbers per odd row: small mixed files such as
#: ``3, cat, 3`` stay class names.
FEW_ODD = 20
# Class names listed in a message, at most.
_LISTED = 10
# The kinds of label text (see _kinds).
_INT, _FLOAT, _NONFINITE, _MISSING, _OTHER = range(5)
#: Bytes a label may hold and still be an integer / a number (the syntax is checked by int and
#: float, which, restricted to these bytes, accept exactly [+-]?[0-9]+ and the usual decimal
#: forms: no inf, nan, _ or white space).
INT_CHARS = b"0123456789+-"
FLOAT_CHARS = b"0123456789+-.eE"
# Bytes a number may start with.
_NUMBER_START = np.zeros(256, np.bool_)
_NUMBER_START[list(b"0123456789+-.")] = True
# Usual spellings of a missing value (pandas' defaults among them), compared lower-case.
_MISSING_WORDS = ("na", "n/a", "#n/a", "null", "none")
_NONFINITE_WORDS = ("nan", "inf", "infinity")


def _spellings() -> dict[bytes, int]:
    """Every spelling (any case; nan and inf signed or not) of the words above -> its kind."""
    found: dict[bytes, int] = {}
    for words, kind, signs in (
        (_NONFINITE_WORDS, _NONFINITE, ("", "+", "-")),
        (_MISSING_WORDS, _MISSING, ("",)),
    ):
        for word in words:
            for letters in itertools.product(*({c.lower(), c.upper()} for c in word)):
                for sign in signs:
                    found[(sign + "".join(letters)).encode()] = kind
    return found


_SPECIAL = _spellings()


def check_label_type(label_type: object, allowed: Sequence[str] = LABEL_TYPES) -> str:
    """``label_type`` if it is one of ``allowed``, else a ValueError listing them."""
    if not isinstance(label_type, str) or label_type not in allowed:
        got = shorten(repr(label_type))
        msg = f"label_type must be one of {', '.join(map(repr, allowed))}, got {got}"
        raise ValueError(msg)
    return label_type


def check_classes(classes: object, label_type: str = "auto") -> tuple[str, ...] | None:
    """``classes`` as a tuple of class names (id = position), or None; else a ValueError.

    Names must be unique, non-empty strings without white space at either end (labels are read
    stripped, so no label could match such a name); the sequence must not be empty.
    """
    return None if classes is None else class_names(classes, label_type)


def class_names(classes: object, label_type: str = "auto") -> tuple[str, ...]:
    """``classes`` as a tuple of checked class names (see :func:`check_classes`)."""
    if isinstance(classes, (str, bytes)) or not isinstance(classes, Iterable):
        msg = f"classes must be a sequence of class names, got {shorten(repr(classes))}"
        raise TypeError(msg)
    names = tuple(classes)
    if label_type not in ("auto", "class"):
        msg = (
            f"classes= pins class names: it needs label_type 'auto' or 'class', not {label_type!r}"
        )
        raise ValueError(msg)
    if not names:
        msg = "classes must name at least one class, got an empty sequence"
        raise ValueError(msg)
    for name in names:
        if not isinstance(name, str):
            msg = f"class names must be strings, got {shorten(repr(name))}"
            raise TypeError(msg)
        if not name or name.strip() != name:
            msg = f"class names must be non-empty, without white space at either end: {quote(name)}"
            raise ValueError(msg)
    if len(set(names)) < len(names):
        twice = next(n for n in names if names.count(n) > 1)
        msg = f"class names must be unique: {quote(twice)} appears {names.count(twice)} times"
        raise ValueError(msg)
    return names


def quote(text: str) -> str:
    """``text`` quoted for a message, cut to about 200 characters."""
    return repr(shorten(text))


def not_a_class(name: str, classes: tuple[str, ...]) -> str:
    """``label 'dgo' is not one of the 3 classes given (cat, dog, horse); did you mean 'dog'?``"""
    listed = ", ".join(shorten(c, 40) for c in classes[:_LISTED])
    if len(classes) > _LISTED:
        listed += f", ... ({len(classes) - _LISTED:,} more)"
    msg = f"{quote(name)} is not one of the {len(classes):,} classes given ({listed})"
    like = difflib.get_close_matches(name, classes, n=1) if len(classes) <= 10_000 else []
    return msg + (f"; did you mean {quote(like[0])}?" if like else "")


@dataclass(frozen=True)
class LabelCodes:
    """A label file's labels as codes: distinct label texts, and per row the code of its text.

    Attributes:
        source: the label file (for messages).
        vocab: UTF-8 label text -> code, in order of first appearance.
        codes: ``int64`` code of each row's label.
        lines: ``int64`` manifest line of each row.
    """

    source: str
    vocab: dict[bytes, int]
    codes: np.ndarray
    lines: np.ndarray

    def first_line(self, name_mask: np.ndarray) -> int:
        """The line of the first row whose label is one of the names ``name_mask`` marks."""
        return int(self.lines[int(np.argmax(name_mask[self.codes]))])

    def error(self, name_mask: np.ndarray, reason: str) -> ManifestError:
        return ManifestError(self.source, self.first_line(name_mask), reason)


def class_labels(
    labels: LabelCodes, *, label_type: str, classes: tuple[str, ...] | None
) -> tuple[np.ndarray, tuple[str, ...]]:
    """The rows' class ids and the classes, for labels the numeric reading did not settle.

    With ``classes`` the ids are positions in it (a label outside it is an error naming its
    line); without, names are numbered in sorted order. ``"int"`` and ``"float"`` get here only
    when some label is not of their type: an error naming the first such line. In ``"auto"``
    mode, labels that are numbers but for a few rows, or that hold a ``nan`` or ``inf``, are an
    error too (see :data:`FEW_ODD`).
    """
    names = list(labels.vocab)
    if label_type != "class" and classes is None:
        _refuse_odd_labels(labels, names, label_type)
    if classes is None:
        order = sorted(range(len(names)), key=names.__getitem__)  # UTF-8 sorts as code points
        found = tuple(names[i].decode("utf-8", "surrogatepass") for i in order)
        ids = np.empty(len(names), dtype=np.int64)
        ids[order] = np.arange(len(names))
    else:
        texts = [name.decode("utf-8", "surrogatepass") for name in names]
        index = {name: i for i, name in enumerate(classes)}
        ids = np.fromiter((index.get(t, -1) for t in texts), np.int64, len(texts))
        outside = ids < 0
        if outside.any():
            first = texts[int(np.argmax(outside))]  # names come in order of first appearance
            raise labels.error(outside, "label " + not_a_class(first, classes))
        found = classes
    return ids[labels.codes], found


def _refuse_odd_labels(labels: LabelCodes, names: list[bytes], label_type: str) -> None:
    """Raise for the labels ``label_type`` (in auto mode, the other labels) rules out."""
    kinds = _kinds(labels.vocab, names)
    if label_type in ("int", "float"):
        odd = kinds != _INT if label_type == "int" else kinds > _FLOAT
        first = names[int(np.argmax(odd))].decode("utf-8", "surrogatepass")
        what = "an integer" if label_type == "int" else "a finite number"
        raise labels.error(odd, f"label {quote(first)} is not {what} (label_type={label_type!r})")
    if not (kinds <= _NONFINITE).any():
        return  # no number, no nan or inf: class names
    rows = np.bincount(kinds[labels.codes], minlength=_OTHER + 1)
    numbers = int(rows[_INT] + rows[_FLOAT])
    if rows[_NONFINITE]:
        odd = kinds == _NONFINITE
    elif numbers and (not rows[_OTHER] or (rows.sum() - numbers) * FEW_ODD <= rows.sum()):
        odd = kinds >= _NONFINITE
    else:
        return  # numbers and names: class names, all of them
    odd_rows = np.flatnonzero(odd[labels.codes])
    code = int(labels.codes[odd_rows[0]])
    what = "a number" if rows[_FLOAT] else "an integer"
    reason = _odd_reason(
        names[code].decode("utf-8", "surrogatepass"),
        int(kinds[code]),
        what,
        labels.lines[odd_rows],
        numbers=numbers,
        rows=len(labels.codes),
    )
    raise ManifestError(labels.source, int(labels.lines[odd_rows[0]]), reason)


def _odd_reason(
    name: str, kind: int, what: str, lines: np.ndarray, *, numbers: int, rows: int
) -> str:
    """``label '3O' is not an integer, unlike the other 999 rows; fix it or pass ...``: the
    first odd label (of ``kind``) in a file of ``numbers`` integers or numbers (``what``) out of
    ``rows``; ``lines`` are the lines of every odd row."""
    if kind == _NONFINITE:
        what = "a finite number"
    elif kind == _MISSING:
        what += " (a missing value?)"
    reason = f"label {quote(name)} is not {what}"
    if numbers == rows - 1:
        reason += f", unlike the other {numbers:,} rows"
    elif numbers:
        reason += f", unlike {numbers:,} of the other {rows - 1:,} rows"
    fix = "fix or drop" if kind == _NONFINITE else "fix"
    if len(lines) == 1:
        fix += " it"
    else:
        shown = ", ".join(map(str, lines[:_LISTED].tolist()))
        more = ", ..." if len(lines) > _LISTED else ""
        fix += f" the {len(lines):,} rows (lines {shown}{more})"
    if kind == _NONFINITE:
        return f'{reason}; {fix}, or pass label_type="class" if it is a class name'
    return f'{reason}; {fix} or pass label_type="class"'


def _kinds(vocab: dict[bytes, int], names: list[bytes]) -> np.ndarray:
    """The kind of each distinct label text (``names[code]``): an integer, a (finite) number,
    nan or inf, a missing-value word, or other text."""
    kinds = np.full(len(names), _OTHER, np.uint8)
    # Only a name starting with a number byte can be a number: found with numpy (class names
    # rarely do), then checked one by one.
    lengths = np.fromiter(map(len, names), np.int64, len(names))
    starts = np.cumsum(lengths) - lengths
    joined = np.frombuffer(b"".join(names) + b"\x00", np.uint8)  # a NUL: no name is empty
    for code in np.flatnonzero(_NUMBER_START[joined[starts]]).tolist():
        kinds[code] = _number_kind(names[code])
    for spelling, kind in _SPECIAL.items():  # a few hundred lookups, however many names
        special = vocab.get(spelling)
        if special is not None:
            kinds[special] = kind
    return kinds


def _number_kind(name: bytes) -> int:
    if name.translate(None, FLOAT_CHARS):
        return _OTHER
    if not name.translate(None, INT_CHARS):
        try:
            int(name)
        except ValueError:
            pass
        else:
            return _INT
    try:
        float(name)
    except ValueError:
        return _OTHER
    return _FLOAT
