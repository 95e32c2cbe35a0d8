"""``scripts/bench_remote.py``: its table's arithmetic, and one tiny run end to end (real servers
on 127.0.0.1; the figures mean nothing here and no test asserts a time)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.helpers import require

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
LABELS = SCRIPTS.parent / "sample_data" / "labels.csv"
sys.path.insert(0, str(SCRIPTS))

import bench_remote  # noqa: E402


def run(rate: float, ratio: float | None = None, rss: float = 100.0) -> dict[str, float]:
    out = {
        "rate": rate,
        "rss_mb": rss,
        "cpu_ms_per_image": 1000 / rate,
        "server_cpu_ms_per_image": 0.5,
    }
    if ratio is not None:
        out["ratio_to_local"] = ratio
    return out


def test_the_table_gives_medians_ratios_to_local_and_to_the_naive_loader() -> None:
    results: dict[str, list[dict[str, float] | None]] = {
        "local": [run(1000), run(1200), run(1100)],
        "imgbatch-http @30ms": [run(900, 0.8), run(800, 0.7, rss=150), run(1000, 0.9)],
        "naive-http @30ms": [run(50, 0.05), None, run(60, 0.06)],
        "imgbatch-s3 @30ms": [None],
    }
    lines = bench_remote.table(results).splitlines()
    assert lines[2] == "| local | 1,100 | - | - | 100 | 0.91 | 0.50 | - |"
    # median 900 images/s, median ratio 0.8, 900 / median(50, 60) = 16.4, largest RSS; CPU
    # per image with the server's: local median 0.91 + 0.5, this case 1.11 + 0.5: 0.87x
    assert lines[3] == "| imgbatch-http @30ms | 900 | 0.80x | 16.4x | 150 | 1.11 | 0.50 | 0.87x |"
    assert lines[4] == "| naive-http @30ms | 55 | 0.06x | - | 100 | 18.33 | 0.50 | - |"
    assert lines[5] == "| imgbatch-s3 @30ms | failed |  |  |  |  |  |  |"


def test_peak_rss_is_this_processs_own() -> None:
    assert 10 < bench_remote.peak_rss_mb() < 100_000


@pytest.mark.slow
def test_bench_remote_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for module in ("fsspec", "s3fs", "aiohttp", "moto"):
        require(module)
    out = tmp_path / "remote.json"
    argv = ["--labels", str(LABELS), "--limit", "6", "--naive-limit", "4", "--latencies", "0,5"]
    argv += ["--rounds", "1", "--batch-size", "2", "--size", "16", "--json-out", str(out)]
    assert bench_remote.main(argv) == 0
    results = json.loads(out.read_text(encoding="utf-8"))["results"]
    assert len(results["local"]) == 3  # before, between and after the two latencies
    for case in bench_remote.CASES:
        for ms in (0, 5):
            (only,) = results[f"{case} @{ms}ms"]
            expected = 4 if case.startswith("naive") else 6
            assert only["images"] == expected, (case, ms)
            assert only["ratio_to_local"] > 0
    assert "| imgbatch-http @5ms |" in capsys.readouterr().out
