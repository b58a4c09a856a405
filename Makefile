# Two commands: `make run` starts the embedded server, `make test` runs the whole suite (and
# the filter's tests once more on its pure-Python path).
# Both set up everything they need from nothing (a Python 3.11 on PATH is the only requirement).

PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
STAMP := $(VENV)/.synced
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-chaos test-pure-python setup lint typecheck bench services clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv>=0.5"

$(STAMP): $(UV) pyproject.toml uv.lock hatch_build.py src/chatguard/filter/_speedups.c
	$(UV) sync --frozen --all-extras --python $(PYTHON)
	@touch $(STAMP)

setup: $(STAMP)

run: setup
	$(VENV)/bin/chatguard serve --host $(HOST) --port $(PORT)

test: setup services
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider -n 2 --dist loadfile --ignore tests/chaos \
		$(PYTEST_ARGS)
	@$(MAKE) --no-print-directory test-pure-python

# The filter's tests again with its compiled kernels turned off: the pure-Python path is what
# runs where no C compiler was at install time. (The equivalence test, which compares the two
# paths in two processes, already ran above.)
PURE_PYTHON_TESTS ?= tests/filter tests/core
test-pure-python: setup services
	CHATGUARD_SPEEDUPS=0 $(VENV)/bin/python -m pytest -q -p no:cacheprovider \
		--ignore tests/filter/test_speedups_equivalence.py $(PURE_PYTHON_TESTS)

# Chaos through `chatguard up` (kill -9 of roles, a Redis restart, PostgreSQL stopped for 10 s;
# 10,000 messages each, about 3 minutes of six processes on the two cores): its own target, so
# that `make test` stays within 10 minutes; see docs/roles.md#tests.
test-chaos: setup services
	$(VENV)/bin/python -m pytest -q -s -p no:cacheprovider tests/chaos $(PYTEST_ARGS)

services:
	@bash scripts/ensure-services.sh
	@bash scripts/ensure-tools.sh

lint: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: setup
	$(VENV)/bin/mypy src

bench: setup
	@for f in bench/*.py; do echo "== $$f"; $(VENV)/bin/python $$f; done

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache chatguard.db
