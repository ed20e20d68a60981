# relabel developer entry points. `make demo` and `make test` set everything up from scratch.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
# torch goes in first: a plain `torch` requirement with nothing installed pulls a multi-GB CUDA
# build. Override TORCH_SPEC (e.g. TORCH_SPEC="torch --index-url <your CPU wheel index>").
TORCH_SPEC ?= torch==2.13.0

.PHONY: venv demo test test-fast lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(VENV)/bin/relabel denoise examples/banking77_noisy.csv --id-col id --out relabel-out/demo
	$(VENV)/bin/relabel export relabel-out/demo --to relabel-out/demo/cleaned.csv

lint: venv
	$(VENV)/bin/ruff check relabel connectors tests bench examples

test: lint
	$(PY) -m pytest -ra

test-fast: venv
	$(PY) -m pytest -ra -m "not slow"

bench: venv
	$(PY) bench/bench_denoise.py
	$(PY) bench/bench_correctors.py
	$(PY) bench/bench_speed.py

clean:
	rm -rf relabel-out .pytest_cache .ruff_cache
