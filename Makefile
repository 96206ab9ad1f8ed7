# Two commands on a fresh machine with Python 3.11+ and make: `make demo` and `make test`.
# Each creates (or reuses) a virtual environment in .venv and installs what it needs.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format bench soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/apart-bot demo

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest

# The performance figures of issue #6 beside their budgets; not part of the test suite.
bench: $(STAMP)
	$(BIN)/python -m bench

# 200 simulated practitioners for 10 minutes with reminders and digests (issue #7).
soak: $(STAMP)
	$(BIN)/python -m bench.soak

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .apart-demo .pytest_cache .mypy_cache .ruff_cache .hypothesis
