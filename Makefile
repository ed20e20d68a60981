# relabel developer entry points. `make demo` and `make test` set everything up from scratch.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
# torch goes in first: a plain `torch` requirement with nothing installed pulls a multi-GB CUDA
# build. Override TORCH_SPEC (e.g. TORCH_SPEC="torch --index-url <your CPU wheel index>").
TORCH_SPEC ?= torch==2.13.0
# Label Studio (server) pins many packages, so it gets its own virtualenv; the review-loop tests
# and benchmark start it on 127.0.0.1 (connectors/label_studio/local_server.py)
LSVENV ?= .lsvenv
LABEL_STUDIO_SPEC ?= label-studio==1.23.2
# label-studio 1.23.2 asks for any sentry-sdk and starts it with options that sentry-sdk 3.0
# no longer takes: the server exits at start ("Unknown option 'send_default_pii'"; a fresh
# install got 3.0 from 2026-12-07 on). Kept below 3 until a label-studio release supports it.
LABEL_STUDIO_PINS ?= sentry-sdk<3

.PHONY: venv lsvenv demo review-demo test test-fast lint bench bench-review clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

venv: $(VENV)/.installed

$(LSVENV)/.installed:
	$(PYTHON) -m venv $(LSVENV)
	$(LSVENV)/bin/python -m pip install --quiet --upgrade pip
	$(LSVENV)/bin/python -m pip install --quiet "$(LABEL_STUDIO_SPEC)" "$(LABEL_STUDIO_PINS)"
	touch $@

lsvenv: $(LSVENV)/.installed

demo: venv
	$(VENV)/bin/relabel denoise examples/banking77_noisy.csv --id-col id --out relabel-out/demo
	$(VENV)/bin/relabel export relabel-out/demo --to relabel-out/demo/cleaned.csv

# the review step in one command: a local Label Studio on 127.0.0.1 with the demo run pushed;
# prints the URL and the login; Ctrl-C stops the server
review-demo: demo lsvenv
	RELABEL_LABEL_STUDIO=$(abspath $(LSVENV))/bin/label-studio $(PY) -m connectors.label_studio.demo relabel-out/demo

lint: venv
	$(VENV)/bin/ruff check relabel connectors tests bench examples
	$(VENV)/bin/mypy

# the review tests fail (rather than skip) here when Label Studio is missing
test: lint lsvenv
	RELABEL_REQUIRE_LABEL_STUDIO=1 RELABEL_LABEL_STUDIO=$(abspath $(LSVENV))/bin/label-studio $(PY) -m pytest -ra --durations=15

test-fast: venv
	$(PY) -m pytest -ra -m "not slow"

bench: venv
	$(PY) bench/trust_signals.py
	$(PY) bench/trust_signals.py --losses ce,supcon,soft,distant_peer_soft
	$(PY) bench/bench_trust.py
	$(PY) bench/bench_small.py
	$(PY) bench/bench_small.py --sets sms-gold,youtube-gold,trec-gold,banking77-test,semeval-gold,banking77-clean --rare 5,10,20,40 --seeds 1,2,3
	$(PY) bench/bench_denoise.py
	$(PY) bench/bench_correctors.py
	$(PY) bench/bench_speed.py
	$(PY) bench/bench_review_loop.py
	$(PY) bench/bench_review_loop.py --reviewer-error 0.1
	$(PY) bench/bench_consensus.py --lodo
	$(PY) bench/bench_lewidi.py

bench-review: venv lsvenv
	RELABEL_LABEL_STUDIO=$(abspath $(LSVENV))/bin/label-studio $(PY) bench/bench_review.py

clean:
	rm -rf relabel-out .pytest_cache .ruff_cache .mypy_cache test-artifacts
