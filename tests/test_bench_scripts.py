"""The benchmark scripts in ``scripts/`` run end to end, and their arithmetic is right.

They run on a few images of ``sample_data/`` with one repeat: the figures mean nothing here and
no test asserts a time; what is checked is that every case ran, and what the reports hold.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
LABELS = SCRIPTS.parent / "sample_data" / "labels.csv"
sys.path.insert(0, str(SCRIPTS))

import bench_jpeg  # noqa: E402
import bench_limits  # noqa: E402
import bench_throughput  # noqa: E402

R = bench_throughput.REFERENCE
JOB = bench_throughput.JOB
P2 = bench_throughput.JOB_PROCESSES


def test_each_case_is_set_against_the_reference_runs_on_either_side() -> None:
    sequence = [(R, 100.0), ("a", 50.0), (R, 120.0), ("b", 10.0), (R, None), ("c", 5.0), (R, 80.0)]
    # a: (100 + 120) / 2 / 50; b and c each lost a neighbouring reference run, so no ratio.
    assert bench_throughput.bracketed_ratios(sequence) == {"a": pytest.approx(2.2)}
    assert bench_throughput.bracketed_ratios([(R, 90.0), ("a", None), (R, 90.0)]) == {}
    # Without the reference among the cases, neighbours are other cases: no ratio at all.
    assert bench_throughput.bracketed_ratios([("a", 1.0), ("b", 2.0), ("c", 3.0)]) == {}


@pytest.mark.slow
def test_bench_throughput_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "throughput.json"
    argv = ["--labels", str(LABELS), "--limit", "8", "--repeats", "2"]
    argv += ["--cases", f"handwritten,{R}", "--batch-size", "4", "--json-out", str(out)]
    assert bench_throughput.main(argv) == 0
    text = capsys.readouterr().out
    report = json.loads(out.read_text(encoding="utf-8"))
    cases = report["cases"]
    # R H R per round: 2 rounds give 4 reference runs, 2 handwritten runs and 2 ratios.
    assert [len(cases[R]["runs"]), len(cases["handwritten"]["runs"])] == [4, 2]
    assert len(cases["handwritten"]["ratios"]) == 2
    assert all(run["images"] == 8 for case in cases.values() for run in case["runs"])
    assert all(run["warm_s"] > 0 for case in cases.values() for run in case["runs"])
    ref_row = next(line for line in text.splitlines() if line.startswith(R))
    assert "1.00x" in ref_row
    assert "HWC float32 RGB" in ref_row


@pytest.mark.slow
def test_bench_throughput_train(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "train.json"
    argv = ["--train", "--labels", str(LABELS), "--limit", "8", "--repeats", "1"]
    # A pattern, not the name: without torch the case is skipped instead of an error.
    argv += ["--cases", f"handwritten*,{R},{JOB},{P2},torch-pil-w0*", "--batch-size", "4"]
    assert bench_throughput.main([*argv, "--json-out", str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["settings"]["train"] is True
    assert report["skipped"]["handwritten"] == "does not apply with --train"
    assert all(run["images"] == 8 for case in report["cases"].values() for run in case["runs"])
    assert report["cases"][R]["median"]["shape"] == [4, 224, 224, 3]
    assert report["cases"][JOB]["median"]["shape"] == [4, 224, 224, 3]
    text = capsys.readouterr().out
    assert "random resized crop" in text
    job_rate = report["cases"][JOB]["median"]["images_per_s"]
    cores = os.cpu_count() or 1
    assert report["ceiling"][0] == f"{cores} cores x {JOB}: {cores * job_rate:,.0f} images/s"
    p2_rate = report["cases"][P2]["median"]["images_per_s"]
    assert f"2 processes ({P2}): {p2_rate:,.0f} images/s" in report["ceiling"]
    assert all(run["images"] == 8 for run in report["cases"][P2]["runs"])
    assert f"  / {R} = " in text


def test_the_job_case_gives_the_loaders_images(tmp_path: Path) -> None:
    # The one-thread job is the loader's own work: the same arrays, batch for batch.
    manifest = bench_throughput.read_rows(LABELS, 8)
    for train in (False, True):
        job = bench_throughput.Job(manifest, list(manifest.paths), manifest.labels, 32, 3, train)
        ours = list(bench_throughput.CASES[JOB].setup(job)())
        loader = list(bench_throughput.CASES["imgbatch-w1"].setup(job)())
        assert len(ours) == len(loader) == 3
        for (x, y), (lx, ly) in zip(ours, loader, strict=True):
            np.testing.assert_array_equal(x, lx)
            np.testing.assert_array_equal(y, ly)


@pytest.mark.slow
def test_bench_limits_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "limits.json"
    argv = ["--labels", str(LABELS), "--limit", "8", "--repeats", "1", "--json-out", str(out)]
    assert bench_limits.main(argv) == 0
    text = capsys.readouterr().out
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["files"] == 8
    assert len(report["loader"]) == len(report["loader_fresh_process"]) == 1
    assert len(report["loader_cold_cache"]) == len(report["loader_cold_cache_no_read_ahead"]) == 1
    assert report["loader_paired_fraction"] > 0
    mean_db, worst_db = report["quality"]["imgbatch default"]
    assert mean_db >= worst_db > 0
    assert "limit: single-thread job x cores" in text
    assert "files not in the page cache, read-ahead off" in text
    assert "imgbatch default" in text
    assert report["job_vs_hand_assembled"] > 0
    assert "hand-assembled: simplejpeg full + linear + write" in text


def test_peers_are_listed_and_skipped_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    cases = bench_throughput.CASES
    assert {"spdl-t2", "grain-inproc", "grain-mp2"} <= set(cases)
    assert cases["spdl-t2"].requires == "spdl"
    assert cases["grain-mp2"].requires == "grain"
    parser = argparse.ArgumentParser()
    # As on CI, where neither peer is installed: skipped (a pattern), not an error.
    monkeypatch.setattr(bench_throughput, "available", lambda case: case.requires is None)
    run, skipped = bench_throughput.choose_cases(f"{R},spdl*,grain*", parser)
    assert run == [R]
    assert skipped == {
        "spdl-t2": "spdl is not installed",
        "grain-inproc": "grain is not installed",
        "grain-mp2": "grain is not installed",
    }


def test_a_peer_that_does_not_load_is_skipped_with_its_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # spdl installed without FFmpeg's shared libraries: its probe fails in a fresh interpreter.
    probe = "raise RuntimeError('Failed to import libspdl: libavcodec.so.59: cannot open')"
    case = bench_throughput.Case(
        "peer", bench_throughput.CASES["handwritten"].setup, requires="os", probe=probe
    )
    monkeypatch.setitem(bench_throughput.CASES, "peer", case)
    run, skipped = bench_throughput.choose_cases("peer", argparse.ArgumentParser())
    assert run == []
    assert skipped["peer"] == (
        "os is installed but does not load: "
        "RuntimeError: Failed to import libspdl: libavcodec.so.59: cannot open"
    )
    ok = bench_throughput.Case("ok", bench_throughput.CASES["handwritten"].setup, probe="import os")
    assert bench_throughput.probe_failure(ok) is None


@pytest.mark.slow
def test_bench_jpeg_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jpegs = tmp_path / "jpegs.csv"
    rows = [line for line in LABELS.read_text().splitlines()[1:] if ".jpg," in line][:6]
    jpegs.write_text(
        "path,label\n" + "".join(f"{SCRIPTS.parent / 'sample_data'}/{r}\n" for r in rows)
    )
    argv = ["--labels", str(jpegs), "--repeats", "1", "--quality-files", "3"]
    assert bench_jpeg.main(argv) == 0
    text = capsys.readouterr().out
    assert "6 files" in text
    for name in bench_jpeg.VARIANTS:
        assert f"| {name} |" in text
    baseline = next(line for line in text.splitlines() if line.startswith("| cv2.imdecode |"))
    assert baseline.count("1.00x") == 2
    assert "| 5/8 |" in text
