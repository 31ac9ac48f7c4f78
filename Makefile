# Two commands a newcomer needs: `make demo` and `make test`. Both create/refresh .venv first.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export MFG_DATA_DIR ?= $(CURDIR)/data

.PHONY: demo demo-headless demo-azure test system-packages lint bench lock clean

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip uv
	$(UV) pip install --python $(PY) -q -r requirements.lock
	$(UV) pip install --python $(PY) -q --no-deps -e .
	@# Precompile once: with PYTHONDONTWRITEBYTECODE set, every process would otherwise
	@# recompile torch/feast/mlflow from source (20-40 s per process).
	$(PY) -m compileall -q -j 0 $(VENV)/lib/python3.11/site-packages > /dev/null 2>&1 || true
	touch $@

## Seed the simulated plant, backfill the graph, then serve the Dagster UI on :3000.
## MFG_DEMO_HEADLESS=1 (or `make demo-headless`) stops after the pipeline instead.
demo: $(VENV)/.installed
	$(PY) -m mfg_assets.demo

demo-headless: $(VENV)/.installed
	MFG_DEMO_HEADLESS=1 $(PY) -m mfg_assets.demo

## The whole graph on the imported Azure predictive-maintenance slice (MFG_DATASETS_DIR/azure_pdm):
## import, backfill, labels, Feast, train/gate/promote, bento, POST /predict, drift; then stops.
demo-azure: $(VENV)/.installed
	DAGSTER_HOME=$(CURDIR)/.dagster_home/azure_pdm MFG_DATA_DIR=$(CURDIR)/data/azure_pdm \
	  $(PY) -m mfg_assets.demo_azure

## The whole test suite (unit, integration on PostgreSQL/Redis, end-to-end).
test: $(VENV)/.installed system-packages
	$(PY) -m pytest

## Debian packages the tests drive, installed once (root, as on CI): headless Chromium for
## the UI browser test (`playwright install` cannot download browsers here) and Compose v1,
## which validates deploy/compose.yaml offline (that test skips with a reason without it).
system-packages:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }
	@command -v docker-compose >/dev/null 2>&1 || { { apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker-compose; } || \
	  echo "docker-compose not installed: the compose config test will skip"; }

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check mfg_assets mfg_assets_tests bench bentos
	$(VENV)/bin/ruff format --check mfg_assets mfg_assets_tests bench bentos

bench: $(VENV)/.installed
	$(PY) bench/feature_etl.py
	$(PY) bench/backfill.py

## Refresh the pinned lock from pyproject.toml.
lock:
	$(UV) pip compile pyproject.toml --extra dev -o requirements.lock --python-version 3.11 --no-header

clean:
	rm -rf $(VENV) .dagster_home data
