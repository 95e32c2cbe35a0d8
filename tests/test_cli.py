"""The imgbatch command, run in-process through main(argv) with capsys."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import imgbatch
from imgbatch.cli import main, parser
from tests.helpers import encode, gradient, make_dataset, write

COLOURS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255)}


def read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path))
    assert image is not None
    rgb: np.ndarray = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return rgb


@pytest.fixture
def labels(tmp_path: Path) -> Path:
    return make_dataset(tmp_path, COLOURS, 4, (24, 32))


def test_info_lists_rows_classes_with_counts_and_file_types(
    labels: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["info", str(labels)]) == 0
    out = capsys.readouterr().out
    assert "csv, 12 rows" in out
    assert "classes: 3" in out
    for name in COLOURS:
        assert f"{name}" in out
    assert "33.3%" in out and "file types: .png 12" in out


def test_info_on_numeric_labels_and_on_a_folder(
    tmp_path: Path, labels: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    numeric = tmp_path / "reg.txt"
    numeric.write_text("red/red_000.png 0.5\nred/red_001.png 1.5\n", encoding="utf-8")
    assert main(["info", str(numeric)]) == 0
    assert "numeric labels: min 0.5, max 1.5, mean 1" in capsys.readouterr().out
    assert main(["info", str(tmp_path)]) == 0
    assert "folder, 12 rows" in capsys.readouterr().out


def test_iterate_reports_throughput_and_peak_memory(
    labels: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["iterate", str(labels), "--batch-size", "5", "--size", "16", "--epochs", "2"])
    assert code == 0
    captured = capsys.readouterr()
    assert "2 epoch(s), 24 images" in captured.out
    assert "images/s" in captured.out and "peak memory (RSS):" in captured.out
    assert "epoch 1" in captured.err  # the tqdm bar


def test_show_writes_a_contact_sheet_of_one_batch_in_true_colours(
    tmp_path: Path, labels: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "grid.png"
    args = ["show", str(labels), "--out", str(out), "--batch-size", "6", "--size", "20x30"]
    assert main([*args, "--cols", "3", "--no-shuffle"]) == 0
    assert "wrote" in capsys.readouterr().out
    sheet = read_rgb(out)
    assert sheet.shape == (2 * (20 + 18), 3 * 30, 3)
    # Unshuffled, the batch is the manifest's first six rows: four red, then two green.
    assert sheet[10, 15].tolist() == [255, 0, 0]
    assert sheet[38 + 10, 15].tolist() == [255, 0, 0]
    assert sheet[38 + 10, 30 + 15].tolist() == [0, 255, 0]
    # It never overwrites a file unless told to.
    before = out.read_bytes()
    assert main(args) == 1
    assert "exists" in capsys.readouterr().err and out.read_bytes() == before
    assert main([*args, "--force", "--color", "bgr"]) == 0
    # color=bgr is what the model gets; the sheet still shows the scene in its true colours.
    sheet = read_rgb(out)
    assert np.isin(sheet[10, 15].tolist(), [0, 255]).all()


def test_show_augment_draws_each_image_beside_itself(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # One asymmetric gradient image per row: each draw crops, flips and jitters it anew.
    write(tmp_path / "a.png", encode(gradient(60, 80)))
    write(tmp_path / "b.png", encode(gradient(60, 80, seed=1)))
    labels = tmp_path / "labels.csv"
    labels.write_text("path,label\na.png,a\nb.png,b\n", encoding="utf-8")
    out = tmp_path / "draws.png"
    args = ["show", str(labels), "--augment", "--draws", "4", "--size", "32", "--out", str(out)]
    assert main(args) == 0
    assert "augmented" in capsys.readouterr().out
    sheet = read_rgb(out)
    assert sheet.shape == (2 * (32 + 18), 5 * 32, 3)  # a row per image: itself + 4 draws
    tiles = [[sheet[r * 50 : r * 50 + 32, c * 32 : c * 32 + 32] for c in range(5)] for r in (0, 1)]
    plain = read_rgb(tmp_path / "a.png")
    expected = cv2.resize(plain, (32, 32), interpolation=cv2.INTER_AREA)
    assert np.abs(tiles[0][0].astype(int) - expected).mean() < 4  # the first column: as it is
    for row in tiles:
        draws = [tile.tobytes() for tile in row[1:]]
        assert len(set(draws)) == 4  # every draw differs
    assert main([*args, "--force", "--draws", "0"]) == 2  # a usage error


def test_errors_name_the_file_and_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("path,label\na.png,cat\nb.png\n", encoding="utf-8")
    assert main(["info", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.csv, line 3" in err and "no label" in err
    missing = tmp_path / "gone.csv"
    missing.write_text("a.png,cat\n", encoding="utf-8")
    assert main(["iterate", str(missing), "--no-progress"]) == 1
    assert "a.png: no such file" in capsys.readouterr().err


def test_usage_errors_exit_2(labels: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert main(["iterate", str(labels), "--size", "big"]) == 2
    assert main(["iterate", str(labels), "--batch-size", "0"]) == 2
    assert "batch_size must be a positive int" in capsys.readouterr().err
    assert main(["--version"]) == 0
    assert imgbatch.__version__ in capsys.readouterr().out


def test_python_dash_m_runs_the_same_command(labels: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "imgbatch", "info", str(labels)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "12 rows" in result.stdout


# ---------------------------------------------------------------------------------------------
# Behaving like a Unix tool


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "imgbatch", *args]


def test_ctrl_c_ends_iterate_with_130_and_one_line(tmp_path: Path) -> None:
    labels = make_dataset(tmp_path, COLOURS, 20, (64, 64))
    proc = subprocess.Popen(
        _command("iterate", str(labels), "--epochs", "100000", "--size", "32", "--batch-size", "4"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        seen = ""
        while "epoch 1" not in seen:  # the bar of a later epoch: deep inside iteration
            char = proc.stderr.read(1)
            assert char, f"iterate ended early: {seen!r}"
            seen += char
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    err = seen + err
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.strip()]
    assert lines[-1] == "imgbatch: interrupted"
    assert sum("interrupted" in line for line in lines) == 1
    assert out == ""


def test_a_closed_pipe_ends_info_quietly(tmp_path: Path) -> None:
    rows = "\n".join(f"img{k}.jpg,class_{k:06d}" for k in range(20_000))
    labels = tmp_path / "labels.csv"
    labels.write_text("path,label\n" + rows + "\n", encoding="utf-8")
    proc = subprocess.Popen(
        _command("info", str(labels), "--all"), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()  # then go away, as `| head -1` does
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    status = proc.wait(timeout=60)
    assert first.startswith(str(labels).encode())
    assert err == ""  # no BrokenPipeError, no "Exception ignored"
    assert status == 141  # what a shell reports for a writer stopped by a closed pipe


def test_info_lists_the_largest_classes_and_a_count_of_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [f"a{k}.jpg,big" for k in range(5)] + [f"b{k}.jpg,c{k:05d}" for k in range(100_000)]
    labels = tmp_path / "labels.csv"
    labels.write_text("path,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    assert main(["info", str(labels)]) == 0
    out = capsys.readouterr().out
    assert "classes: 100,001" in out
    assert len(out.splitlines()) < 30
    assert "big" in out  # the largest class comes first
    assert "99,981 more" in out and "--all" in out
    assert main(["info", str(labels), "--all"]) == 0
    assert len(capsys.readouterr().out.splitlines()) > 100_000


def _actions(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.Action]]:
    found = []
    for action in parser._actions:  # argparse has no public list
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += [(f"{name} {n}", a) for n, a in _actions(sub)]
        elif not isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            found.append((parser.prog, action))
    return found


def test_every_option_has_help_text() -> None:
    missing = [f"{where}: {a.dest}" for where, a in _actions(parser()) if not a.help]
    assert not missing, f"options without help: {missing}"


# ---------------------------------------------------------------------------------------------
# info: ids, the label range, classes without rows (issue 14)


def test_info_lists_each_class_with_its_id(
    labels: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["info", str(labels)]) == 0
    out = capsys.readouterr().out
    assert "classes: 3 (ids 0..2)" in out
    table = [line.split() for line in out.splitlines() if line.startswith("  ")]
    assert table[0] == ["id", "class", "rows", "share"]
    assert table[1:] == [["0", "blue", "4", "33.3%"], ["1", "green", "4", "33.3%"],
                         ["2", "red", "4", "33.3%"]]  # fmt: skip
    assert "no rows" not in out


def test_info_shows_classes_without_rows(labels: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from imgbatch.cli import info

    m = imgbatch.read_manifest(labels, classes=("blue", "cyan", "green", "red"))
    assert info.run(argparse.Namespace(labels=m, all=False)) == 0
    out = capsys.readouterr().out
    assert "classes: 4 (ids 0..3)" in out
    assert ["1", "cyan", "0", "0.0%"] in [line.split() for line in out.splitlines()]
    assert "1 class with no rows: cyan (id 1)" in out


def test_info_calls_out_negative_integer_labels(
    tmp_path: Path, labels: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ints = tmp_path / "ints.txt"
    ints.write_text("red/red_000.png 3\nred/red_001.png -1\nred/red_002.png 3\n", encoding="utf-8")
    assert main(["info", str(ints)]) == 0
    out = capsys.readouterr().out
    assert "integer labels: 2 distinct, -1..3" in out
    assert ["-1", "1", "33.3%"] in [line.split() for line in out.splitlines()]
    assert "warning: 1 row with a negative label (the first on line 2)" in out


def test_info_names_the_odd_label_of_an_integer_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ints = tmp_path / "ints.txt"
    ints.write_text("".join(f"{i}.png {i % 5}\n" for i in range(40)) + "x.png 3O\n", "utf-8")
    assert main(["info", str(ints)]) == 1
    err = capsys.readouterr().err
    assert "line 41: label '3O' is not an integer, unlike the other 40 rows" in err
