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

.PHONY: setup run test check lint pytest docs clean serve serve-status serve-stop cluster-build
.PHONY: bench-twins
.PHONY: bench-accuracy bench-scale bench-peers
.PHONY: app browser bench-app native-blas

# Virtualenv with the pinned packages; redone only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 not found (set PYTHON=...)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@grep -q DBT_PROFILES_DIR $(BIN)/activate || \
		echo 'export DBT_PROFILES_DIR="$(CURDIR)/profiles"' >> $(BIN)/activate
	@touch $@

# Java, Spark and the Delta jars (fetched from Maven Central once), checked end to end; the
# first time, the check also writes the driver JVM's class archive (again when doctor changes).
$(MOVIELAKE_HOME)/.spark-ready: $(VENV)/.installed src/movielake/ops/doctor.py | native-blas
	$(BIN)/movielake doctor
	@touch $@

setup: $(MOVIELAKE_HOME)/.spark-ready

# dbt's unit tests check SQL logic on fixed inputs, not the data: `make test` runs them
# (tests/integration/test_dbt_unit_tests.py); a build of the data leaves them out, as dbt advises.
run: setup
	$(BIN)/dbt build --exclude-resource-type unit_test $(DBT_ARGS)

lint: setup
	$(BIN)/sqlfluff lint --processes 0 models tests/dbt
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The gate before every commit: lint and the unit tests (no JVM, no network; tests/unit).
.PHONY: check
check: lint
	$(BIN)/python -m pytest -m unit tests/unit $(PYTEST_ARGS)

pytest: setup test-tools
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# What the tests need besides the set-up: Chromium and PostgreSQL (one apt call: apt holds a
# lock, two at once would fail), then side by side the peers' packages (the [bench] extra, a C
# build), Kafka's jars, the object store's Go build and HDFS's and the metastore's jars. Each is
# cached and skipped the next time; together they take about the longest one's time.
.PHONY: test-tools test-packages storage-tools
test-tools: setup test-packages
	@$(MAKE) --no-print-directory -j5 $(VENV)/.bench-installed kafka-jars storage-tools
test-packages: setup
	@$(call apt_install,$(CHROMIUM_PKGS) $(POSTGRES_PKGS))
storage-tools: setup
	@$(MAKE) --no-print-directory -j3 objectstore-bin hdfs-jars metastore-jars

# A system BLAS/LAPACK (Debian's OpenBLAS) for Spark MLlib: without one, ALS's normal equations
# run in Java, and a rank-64 fit takes twice as long (benchmarks/results/als_native_blas.txt).
# Best effort: apt when missing (root, or sudo); otherwise Spark falls back to Java and says so.
native-blas:
	@! command -v ldconfig >/dev/null || ldconfig -p | grep -q 'libblas\.so\.3' || { \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install \
			-y -qq --no-install-recommends libopenblas0-pthread; } || \
		echo "native-blas: no system BLAS installed; Spark's ALS will use its Java fallback"

# Debian's Chromium and chromedriver, for the app's browser tests (tests/system/test_app_browser.py);
# installed with apt when missing (root, or sudo).
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
# $(call apt_install,PACKAGES): install the Debian packages named, if any
apt_install = $(if $(strip $(1)),$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	$(SUDO) apt-get install -y -qq --no-install-recommends $(strip $(1)),true)
# the packages still missing, empty when installed
CHROMIUM_PKGS = $(if $(shell command -v chromium >/dev/null && command -v chromedriver),,\
	chromium chromium-driver fonts-liberation)
POSTGRES_PKGS = $(if $(wildcard /usr/lib/postgresql/*/bin/postgres)$(shell command -v postgres),,\
	postgresql)
browser:
	@$(call apt_install,$(CHROMIUM_PKGS))

# The web app on http://127.0.0.1:8501 (APP_ARGS="--port 8600 --schema-prefix synth")
APP_ARGS ?=
app: setup
	$(BIN)/movielake app $(APP_ARGS)

# lint beside the tests' set-up, then the tests
test: setup
	@$(MAKE) --no-print-directory -j2 lint test-tools
	@$(MAKE) --no-print-directory pytest

docs: setup
	$(BIN)/dbt docs generate $(DBT_ARGS)
	@echo "Open the site with: $(BIN)/dbt docs serve --port 8080 (then http://127.0.0.1:8080)"

# The HTML report of the built tables (EDA marts, and models/twins when built), e.g.
# make report REPORT_ARGS="--out /tmp/report/index.html"
REPORT_ARGS ?=
.PHONY: report
report: setup
	$(BIN)/movielake report $(REPORT_ARGS)

# Removes build output and the lakehouse's tables; fetched releases in raw/ are kept.
# The Spark server (Spark Connect + JDBC) that owns the metastore; see docs/operations.md.
serve: setup
	$(BIN)/movielake serve
serve-status: setup
	$(BIN)/movielake serve --status
serve-stop: setup
	$(BIN)/movielake serve --stop

# The full build on a local Spark standalone cluster (master + worker on loopback, stopped after).
cluster-build: setup
	$(BIN)/movielake cluster -- dbt build $(DBT_ARGS)

# The Kafka broker of the streaming ingest (README "Streaming"); its jars come from Maven Central.
.PHONY: kafka-jars kafka-start kafka-status kafka-stop
kafka-jars: setup
	$(BIN)/movielake kafka fetch
kafka-start: setup
	$(BIN)/movielake kafka start $(KAFKA_ARGS)
kafka-status: setup
	$(BIN)/movielake kafka status
kafka-stop: setup
	$(BIN)/movielake kafka stop

# Streaming: ingest rate and produce-to-recommendations latency (p50/p95) on the built lakehouse,
# e.g. make bench-stream BENCH_ARGS="--rate 500 --messages 50000".
.PHONY: bench-stream
bench-stream: kafka-jars
	$(BIN)/python benchmarks/bench_stream.py $(BENCH_ARGS)

CLEANED := target logs $(MOVIELAKE_HOME)/spark-warehouse $(MOVIELAKE_HOME)/metastore_db \
	$(MOVIELAKE_HOME)/tmp $(MOVIELAKE_HOME)/derby.log $(MOVIELAKE_HOME)/.spark-ready \
	$(MOVIELAKE_HOME)/warehouse.txt
clean:
	@echo "make clean removes: dbt's target/ and logs/, and from $(MOVIELAKE_HOME): every table"
	@echo "(spark-warehouse/), the metastore (metastore_db/, warehouse.txt), scratch files (tmp/,"
	@echo "derby.log) and the set-up stamp; fetched releases (raw/), the servers' data and logs and the"
	@echo "report stay."
	rm -rf $(CLEANED)

# Movie twins: MinHash LSH vs exact brute force (recall@N, timings) on ml-latest-small and a
# larger synthetic release, e.g. make bench-twins BENCH_ARGS="--users 5000".
bench-twins: setup
	$(BIN)/python benchmarks/twins.py $(BENCH_ARGS)

# Recommenders' accuracy on the bundled ml-latest-small: every model's metrics, stage times.
bench-accuracy: setup
	$(BIN)/python benchmarks/bench_accuracy.py $(BENCH_ARGS)

# The whole build on generated ml-20m-shaped releases of growing size: per-model wall time, peak
# memory, growth exponents, RMSE vs the noise floor, log-log plot (benchmarks/results/scale.*),
# e.g. make bench-scale BENCH_ARGS="--sizes 100000 1000000 5000000 20000000 --twins-preset
# ml-latest" (the last: user_twins on 330,975 users, recall against the exact top pairs).
bench-scale: setup
	nice -n 10 $(BIN)/python benchmarks/bench_scale.py $(BENCH_ARGS)

# The build with its warehouse on local files, the object store and HDFS side by side (wall
# time, ratio to local, metrics agreement), e.g. make bench-storage BENCH_ARGS="--cluster-ratings
# 1000000" (also a generated 1M-rating release on a 2-worker cluster, all on the object store).
.PHONY: bench-storage
bench-storage: setup objectstore-bin hdfs-jars
	$(BIN)/python benchmarks/bench_storage.py $(BENCH_ARGS)

# The app's recommendation latency (50 ratings) and the Spark-free CLI start, on a built lakehouse.
bench-app: setup
	$(BIN)/python benchmarks/bench_app.py $(BENCH_ARGS)

# Peers (Surprise, implicit, EASE) tuned, refit and scored like our models, on the split tables
# of a built data home, e.g. make bench-peers BENCH_ARGS="--peers ease,implicit_als".
# the [bench] extra's packages only: reinstalling the project itself (pip install -e ".[bench]")
# would pull its scripts from under the jobs that run beside this one in `make test`
$(VENV)/.bench-installed: $(VENV)/.installed
	$(BIN)/python -c "import subprocess, sys, tomllib; \
		extra = tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']; \
		subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--quiet', *extra['bench']])"
	@touch $@
bench-peers: setup $(VENV)/.bench-installed
	$(BIN)/python benchmarks/bench_peers.py $(BENCH_ARGS)

# Storage servers on loopback, data in $(MOVIELAKE_HOME): an S3 object store (versitygw, built
# once with Go into ~/.cache/movielake) and a single-node HDFS (jars from Maven Central, once).
# start/status print the variables to export (the store's keys included).
.PHONY: objectstore-bin objectstore-start objectstore-stop objectstore-status
.PHONY: hdfs-jars hdfs-start hdfs-stop hdfs-status
objectstore-bin: setup
	$(BIN)/movielake objectstore build
objectstore-start: setup
	$(BIN)/movielake objectstore start $(OBJECTSTORE_ARGS)
objectstore-status: setup
	$(BIN)/movielake objectstore status
objectstore-stop: setup
	$(BIN)/movielake objectstore stop
hdfs-jars: setup
	$(BIN)/movielake hdfs fetch
hdfs-start: setup
	$(BIN)/movielake hdfs start $(HDFS_ARGS)
hdfs-status: setup
	$(BIN)/movielake hdfs status
hdfs-stop: setup
	$(BIN)/movielake hdfs stop

# The shared Hive Metastore: PostgreSQL and Hive Metastore 4.0.1 on loopback, with its data in
# $(MOVIELAKE_HOME)/metastore, so that several Spark applications share one catalog.
# metastore-fetch installs Debian's PostgreSQL when missing (root, or sudo) and downloads the
# metastore and Spark's Hive client jars (~380 MB, once, into ~/.cache/movielake). start/status
# print the variables a client exports, e.g. make metastore-start METASTORE_ARGS="--port 9084".
.PHONY: metastore-fetch metastore-jars metastore-start metastore-status metastore-stop
metastore-fetch: setup metastore-jars
	@$(call apt_install,$(POSTGRES_PKGS))
metastore-jars: setup
	$(BIN)/movielake metastore fetch
metastore-start: setup
	$(BIN)/movielake metastore start $(METASTORE_ARGS)
metastore-status: setup
	$(BIN)/movielake metastore status
metastore-stop: setup
	$(BIN)/movielake metastore stop
