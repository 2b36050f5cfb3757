# Every target the README and CI use. `make run` and `make test` set up .venv themselves.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: run install dev test test-clock check-install lint typecheck pytest bench bench-own bench-peers bench-scale format clean

# The venv keeps the interpreter's own pip, as deploy/README.md's install does: what installs
# here installs there.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

# libfaketime is built from source: its wheel carries an x86-64-only library.
$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --no-binary libfaketime -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

dev: $(VENV)/.dev-installed

## run: install, then start the daemon on the shipped feeds.yaml and the default database
run: install
	$(BIN)/monitor run

## test: install with dev tools, then lint, type-check and run the whole test suite
test: dev lint typecheck pytest

lint: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: dev
	$(BIN)/mypy monitor spiders storage

# One worker per core: most of the suite's time is subprocesses waiting on loopback servers.
pytest: dev
	$(BIN)/pytest -n auto

## test-clock: the whole suite with the machine's clock CLOCK_SHIFT ahead for every process
CLOCK_SHIFT ?= +400d
test-clock: dev
	$(BIN)/python -m tests.clockshift $(CLOCK_SHIFT) $(BIN)/pytest -n auto -p no:cacheprovider

## check-install: deploy/README.md's install as written, into a fresh venv, then a real crawl
check-install: dev
	$(BIN)/python -m tests.install_check

## bench: the project's own benchmarks, then the side-by-side run with rss2email (about an hour)
PEERS ?= ../shared/peers
REPS ?= 3
bench: bench-own bench-peers

bench-own: dev
	$(BIN)/python bench/poll_bench.py
	$(BIN)/python bench/crawl_bench.py
	$(BIN)/python bench/backfill_bench.py
	$(BIN)/python bench/relevance_eval.py
	$(BIN)/python bench/story_eval.py
	$(BIN)/python bench/story_bench.py
	$(BIN)/python bench/alert_bench.py --peers $(PEERS)
	$(BIN)/python bench/daemon_bench.py --peers $(PEERS)
	$(BIN)/python bench/web_bench.py

# 1, 2 and 3 daemons on the machine's PostgreSQL (and one on SQLite), 1,000 feeds, 10,000 rules.
bench-scale: dev
	$(BIN)/python bench/scale_bench.py --peers $(PEERS)

# rss2email 3.14 and `monitor poll` back to back on the same loopback feeds, medians of REPS;
# compare.py prints monitor ÷ rss2email for CPU, wall and peak RSS per workload and run.
bench-peers: dev
	out=$$(mktemp -d /tmp/peers-out.XXXXXX) && \
	  OUT=$$out REPS=$(REPS) MONITOR_REPO=$(CURDIR) bash $(PEERS)/interleave.sh && \
	  $(PYTHON) $(PEERS)/compare.py $$out/results.jsonl

format: dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
