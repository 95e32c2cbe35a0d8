# imgbatch: `make demo` and `make test` each set everything up (a .venv) on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev

BENCH_STAMP := $(VENV)/.installed-bench
IMAGENET := bench_data/imagenet-like/labels.csv
CAMERA := bench_data/camera-like/labels.csv
# The peers that matter (the others: bench_throughput.py --cases ...); patterns skip what is not
# installed (tf.data, SPDL, Grain are not in the bench extra: see the script's docstring).
PLAIN_CASES := handwritten,load_eager,imgbatch-*,torch-pil-w2,tf-data*,spdl*,grain*
TRAIN_CASES := imgbatch-*,torch-pil-w2,tf-data*,spdl*,grain*

.PHONY: help venv demo test lint format bench clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)  ## create .venv and install imgbatch with its dev tools

demo: $(STAMP)  ## inspect sample_data/, stream it, train a small numpy classifier, compare eager vs lazy memory
	$(VENV)/bin/imgbatch info sample_data/labels.csv
	$(VENV)/bin/imgbatch iterate sample_data/labels.csv --epochs 3
	$(PY) scripts/train_numpy.py
	$(VENV)/bin/imgbatch bench memory sample_data/labels.csv --quick

lint: $(STAMP)  ## ruff (lint + format check) and mypy --strict
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: lint  ## lint, then every test (pytest exits non-zero when no test ran)
	$(PY) -m pytest

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench,plot,peers]' torch==2.13.0
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)  ## build bench_data/, then throughput, limits, quality and memory (~28 min; tf.data if installed)
	$(PY) scripts/make_bench_data.py
	mkdir -p bench_results
	$(PY) scripts/bench_throughput.py --labels $(IMAGENET) --cases '$(PLAIN_CASES)' --markdown --json-out bench_results/throughput-imagenet.json
	$(PY) scripts/bench_throughput.py --labels $(CAMERA) --cases '$(PLAIN_CASES)' --markdown --json-out bench_results/throughput-camera.json
	$(PY) scripts/bench_throughput.py --train --labels $(IMAGENET) --cases '$(TRAIN_CASES)' --markdown --json-out bench_results/throughput-train-imagenet.json
	$(PY) scripts/bench_throughput.py --train --labels $(CAMERA) --cases '$(TRAIN_CASES)' --markdown --json-out bench_results/throughput-train-camera.json
	$(PY) scripts/bench_limits.py --labels $(IMAGENET) --limit 2000 --markdown --json-out bench_results/limits-imagenet.json
	$(PY) scripts/bench_limits.py --labels $(CAMERA) --limit 200 --markdown --json-out bench_results/limits-camera.json
	$(PY) scripts/bench_jpeg.py --labels $(IMAGENET) --limit 1000
	$(PY) scripts/bench_jpeg.py --labels $(CAMERA) --limit 100
	$(PY) scripts/bench_memory.py sample_data/labels.csv --repeats 3 --csv bench_results/memory.csv --plot bench_results/memory.png
	$(PY) scripts/bench_manifest.py --markdown

format: $(STAMP)  ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:  ## remove .venv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
