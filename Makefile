# MovieLake: `make run` sets everything up and builds the lakehouse; `make test` tests it all.
SHELL := bash
.DEFAULT_GOAL := run

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export MOVIELAKE_HOME ?= $(CURDIR)/.lakehouse
export DBT_PROFILES_DIR := $(CURDIR)/profiles
# Extra dbt arguments, e.g. make run DBT_ARGS="--vars '{dataset: ml-1m}'"
DBT_ARGS ?=

.PHONY: setup run test lint pytest docs clean bench-accuracy

# Virtualenv with the pinned packages; redone only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 not found (set PYTHON=...)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@grep -q DBT_PROFILES_DIR $(BIN)/activate || \
		echo 'export DBT_PROFILES_DIR="$(CURDIR)/profiles"' >> $(BIN)/activate
	@touch $@

# Java, Spark and the Delta jars (fetched from Maven Central once), checked end to end.
$(MOVIELAKE_HOME)/.spark-ready: $(VENV)/.installed
	$(BIN)/movielake doctor
	@touch $@

setup: $(MOVIELAKE_HOME)/.spark-ready

run: setup
	$(BIN)/dbt build $(DBT_ARGS)

lint: setup
	$(BIN)/sqlfluff lint models macros tests/dbt

pytest: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint pytest

docs: setup
	$(BIN)/dbt docs generate $(DBT_ARGS)
	@echo "Open the site with: $(BIN)/dbt docs serve --port 8080 (then http://127.0.0.1:8080)"

# Removes build output and the lakehouse's tables; fetched releases in raw/ are kept.
clean:
	rm -rf target logs
	rm -rf $(MOVIELAKE_HOME)/spark-warehouse $(MOVIELAKE_HOME)/metastore_db \
		$(MOVIELAKE_HOME)/tmp $(MOVIELAKE_HOME)/derby.log $(MOVIELAKE_HOME)/.spark-ready

# Recommenders' accuracy on the bundled ml-latest-small: every model's metrics, stage times.
bench-accuracy: setup
	$(BIN)/python benchmarks/bench_accuracy.py $(BENCH_ARGS)
