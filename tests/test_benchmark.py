"""``imgbatch bench memory``: children, table, CSV, budget verdicts, plot and errors.

The end-to-end tests run real child processes on a tiny dataset; the rest replace the child with
fixed measurements so that the verdicts (OK / OVER, flat / not flat, exit status) are exact.
No test asserts a time.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from imgbatch.bench import BenchConfig, Measurement, child, is_flat, lazy_budget_mb, memory
from imgbatch.cli import main

from .helpers import make_dataset, require

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
sys.path.insert(0, str(SCRIPTS))

import bench_memory  # noqa: E402

COLORS = {"red": (255, 0, 0), "blue": (0, 0, 255)}
TINY = ["--size", "32", "--batch-size", "4", "--workers", "1", "--prefetch", "1"]


@pytest.fixture
def labels(tmp_path: Path) -> Path:
    return make_dataset(tmp_path / "data", COLORS, per_class=3, size=(16, 16))


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------------------------------------
# End to end: real child processes


def test_bench_memory_end_to_end(
    labels: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "memory.csv"
    argv = ["bench", "memory", str(labels), "--sizes", "20,40", *TINY, "--csv", str(out)]
    status = main(argv)
    text = capsys.readouterr().out
    assert status == 0, text
    assert "baseline (python, imgbatch" in text
    assert "lazy budget: baseline + (prefetch 1 + workers 1 + 1)" in text
    assert "rows  mode   peak RSS MB  first batch s  total s  images/s  budget" in text
    table = [
        line.split() for line in text.splitlines() if line.split()[1:2] in (["lazy"], ["eager"])
    ]
    assert [(r[0], r[1]) for r in table] == [("20", "eager"), ("20", "lazy"), ("40", "eager"),
                                             ("40", "lazy")]  # fmt: skip
    assert [r[-1] for r in table if r[1] == "lazy"] == ["OK", "OK"]
    assert "lazy memory is flat" in text
    assert f"wrote {out}" in text
    rows = read_rows(out)
    assert [(r["rows"], r["mode"], r["check"]) for r in rows] == [
        ("20", "eager", ""), ("20", "lazy", "OK"), ("40", "eager", ""), ("40", "lazy", "OK")
    ]  # fmt: skip
    for r in rows:
        assert float(r["peak_rss_mb"]) > float(r["baseline_mb"]) * 0.9 > 0
        assert float(r["budget_mb"]) > float(r["baseline_mb"])
        assert float(r["total_s"]) >= float(r["first_batch_s"]) >= 0


def test_bench_memory_impossible_budget_is_over(
    labels: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["bench", "memory", str(labels), "--sizes", "12", *TINY, "--max-lazy-mb", "1"])
    text = capsys.readouterr().out
    assert status == 1
    lazy = [line for line in text.splitlines() if line.split()[1:2] == ["lazy"]]
    assert len(lazy) == 1
    assert lazy[0].endswith("OVER")
    assert "lazy budget: 1.0 MB (--max-lazy-mb)" in text
    assert "OVER budget (1.0 MB) at 12 rows" in text


def test_bench_memory_child_failure_names_the_file(
    labels: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = labels.parent / "red" / "red_001.png"
    missing.unlink()
    status = main(["bench", "memory", str(labels), "--sizes", "6", *TINY])
    err = capsys.readouterr().err
    assert status == 1
    assert "imgbatch: error: eager run of 6 rows failed" in err
    assert str(missing) in err


def test_child_main_prints_one_json_line(labels: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = json.dumps({"labels": str(labels), "size": [16, 16], "batch_size": 4,
                         "workers": 1, "prefetch": 0})  # fmt: skip
    assert child.main(["lazy", config, "10"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["mode"] == "lazy"
    assert result["rows"] == 10
    assert result["images"] == 10
    assert result["peak_rss_mb"] > 0
    assert child.main(["nonsense", config, "10"]) == 2
    folder = json.dumps({"labels": str(labels.parent), "size": [16, 16], "batch_size": 4,
                         "workers": 1, "prefetch": 0})  # fmt: skip
    assert child.main(["eager", folder, "5"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["images"] == 5


# ---------------------------------------------------------------------------------------------
# Verdicts, with the child replaced by fixed figures


def fake_measure(
    lazy: Callable[[int], float], eager: Callable[[int], float] = lambda n: 50 + n
) -> Callable[[str, BenchConfig, int], Measurement]:
    def measure(mode: str, config: BenchConfig, rows: int) -> Measurement:
        if mode == "baseline":
            return Measurement(mode, 6, 50.0, 0.0, 0.0, 0)
        peak = lazy(rows) if mode == "lazy" else eager(rows)
        return Measurement(mode, rows, peak, 0.01, 0.1, rows)

    return measure


def run(argv: list[str]) -> int:
    return main(["bench", "memory", *argv, "--no-progress"])


def test_formula_and_flatness() -> None:
    config = BenchConfig("l.csv", size=(224, 224), batch_size=32, workers=2, prefetch=2)
    assert config.batch_mb == pytest.approx(18.375)
    batches = 5 * 18.375
    assert lazy_budget_mb(50.0, config) == pytest.approx(50 + batches + 10)  # 10 MB > 5%
    big = BenchConfig("l.csv", size=(512, 512), batch_size=64, workers=8, prefetch=4)
    rest = 100 + 13 * big.batch_mb
    assert lazy_budget_mb(100.0, big) == pytest.approx(rest * 1.05)  # 5% > 10 MB
    assert is_flat(100.0, 110.0)
    assert not is_flat(100.0, 110.1)
    assert is_flat(400.0, 420.0)  # 5% of 400 = 20 MB
    assert not is_flat(400.0, 420.5)
    assert not is_flat(400.0, 379.0)


@pytest.mark.parametrize("option", [["--batch-size", "0"], ["--workers", "0"], ["--prefetch", "-1"],
                                    ["--repeats", "0"], ["--size", "0"]])  # fmt: skip
def test_bad_options_are_usage_errors(
    labels: Path, option: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run([str(labels), "--sizes", "4", *option]) == 2
    err = capsys.readouterr().err
    assert "must be" in err


@pytest.mark.parametrize("sizes", ["abc", "10,x", ""])
def test_bad_sizes(labels: Path, sizes: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run([str(labels), "--sizes", sizes]) == 2
    assert "sizes must be" in capsys.readouterr().err


def test_missing_label_file_is_reported_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run([str(tmp_path / "nope.csv")]) == 1
    assert "no such label file" in capsys.readouterr().err


def test_flat_and_within_budget_exits_0(
    labels: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(memory, "measure", fake_measure(lambda n: 55.0 + n / 1000))
    assert run([str(labels), "--sizes", "100,1000,5000", *TINY]) == 0
    text = capsys.readouterr().out
    assert text.count(" OK") == 3
    assert "lazy memory is flat: 55.1 MB at 100 rows, 60.0 MB at 5,000 rows" in text
    assert "eager grows with the dataset: 150.0 MB at 100 rows, 5,050.0 MB at 5,000 rows" in text


def test_growing_lazy_memory_is_not_flat(
    labels: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Within the budget at every size, but growing: the flatness check alone must fail it.
    monkeypatch.setattr(memory, "measure", fake_measure(lambda n: 40.0 + n / 100))
    status = run([str(labels), "--sizes", "100,1200", *TINY])
    text = capsys.readouterr().out
    assert status == 1
    assert "OVER" not in text
    assert "lazy memory is NOT flat: 41.0 MB at 100 rows, 52.0 MB at 1,200 rows" in text


def test_over_budget_rows_are_marked(
    labels: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(memory, "measure", fake_measure(lambda n: 61.0))
    status = run([str(labels), "--sizes", "10,20", *TINY])  # budget: 50 + 3 x 0.05 + 10 MB
    text = capsys.readouterr().out
    assert status == 1
    assert [line.split()[-1] for line in text.splitlines() if " lazy " in line] == ["OVER"] * 2
    assert "lazy memory is flat" in text
    assert "OVER budget (60.1 MB) at 10, 20 rows" in text


def test_repeats_report_medians(
    labels: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    peaks = iter([50.0, 60.0, 70.0] * 10)
    monkeypatch.setattr(memory, "measure", fake_measure(lambda n: next(peaks)))
    out = tmp_path / "r.csv"
    run([str(labels), "--sizes", "10", *TINY, "--repeats", "3", "--csv", str(out)])
    rows = read_rows(out)
    lazy = next(r for r in rows if r["mode"] == "lazy")
    assert lazy["peak_rss_mb"] == "60.0"
    assert lazy["repeats"] == "3"


def test_eager_skipped_when_it_cannot_fit(
    labels: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(memory, "measure", fake_measure(lambda n: 55.0))
    monkeypatch.setattr(memory, "available_mb", lambda: 1.0)  # 1 MB free: no eager run fits
    assert run([str(labels), "--sizes", "100,200", *TINY]) == 0
    text = capsys.readouterr().out
    assert " eager " not in text
    assert "eager at 100 rows skipped: needs ~0.0 GB" in text


def test_quick_mode_settings(
    labels: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[tuple[str, int, tuple[int, int]]] = []

    def measure(mode: str, config: BenchConfig, rows: int) -> Measurement:
        seen.append((mode, rows, config.size))
        return fake_measure(lambda n: 55.0)(mode, config, rows)

    monkeypatch.setattr(memory, "measure", measure)
    assert run([str(labels), "--quick"]) == 0
    assert [(m, r) for m, r, _ in seen] == [("baseline", 0), ("eager", 200), ("lazy", 200),
                                            ("eager", 400), ("lazy", 400), ("eager", 800),
                                            ("lazy", 800)]  # fmt: skip
    assert {s for _, _, s in seen} == {(128, 128)}
    assert "size 128x128" in capsys.readouterr().out


def test_plot_without_matplotlib_says_how_to_install_it(
    labels: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(memory, "measure", fake_measure(lambda n: 55.0))
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    png = tmp_path / "m.png"
    assert run([str(labels), "--sizes", "10,20", *TINY, "--plot", str(png)]) == 0
    captured = capsys.readouterr()
    assert "pip install 'imgbatch[plot]'" in captured.err
    assert "lazy memory is flat" in captured.out  # the table is still printed
    assert not png.exists()


def test_plot_with_matplotlib(
    labels: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require("matplotlib")
    monkeypatch.setattr(memory, "measure", fake_measure(lambda n: 55.0))
    png = tmp_path / "m.png"
    assert run([str(labels), "--sizes", "10,20", *TINY, "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_progress_bar_leaves_no_thread(
    labels: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(memory, "measure", fake_measure(lambda n: 55.0))
    assert main(["bench", "memory", str(labels), "--sizes", "10", *TINY]) == 0
    assert "lazy memory is flat" in capsys.readouterr().out


def test_script_entry_point(
    labels: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(memory, "measure", fake_measure(lambda n: 55.0))
    assert bench_memory.main([str(labels), "--sizes", "10", *TINY, "--no-progress"]) == 0
    assert "lazy memory is flat" in capsys.readouterr().out
    assert bench_memory.main([str(labels), "--batch-size", "0"]) == 2
    assert "batch_size must be a positive int, got 0" in capsys.readouterr().err


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (VmHWM)")
def test_a_child_reports_its_own_peak_not_its_parents() -> None:
    # Linux carries ru_maxrss across exec: a child of a 400 MB process would report 400 MB.
    # peak_rss_mb reads the child's own high-water mark.
    import subprocess
    import sys

    parent = (
        "import subprocess, sys\n"
        "big = bytearray(400 << 20)\n"
        "big[::4096] = b'x' * len(big[::4096])\n"
        "code = 'from imgbatch._util import peak_rss_mb; print(peak_rss_mb())'\n"
        "print(subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,"
        " check=True).stdout)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", parent], capture_output=True, text=True, timeout=60, check=True
    )
    child_mb = float(out.stdout.split()[0])
    assert 1 < child_mb < 300, child_mb
