# Pace: the two commands a new user needs are `make run-websockets` and `make test`.
# Everything they need is installed here: uv into .tools/, the workspace into .venv/.

SHELL := /bin/bash
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
RUN := $(UV) run --frozen --no-sync
export UV_PYTHON_DOWNLOADS := never
# The real interpreter, not a shim: uv compares it with the venv's and would rebuild .venv.
export UV_PYTHON := $(shell $(PYTHON) -c 'import sys; print(sys.executable)')
export UV_PROJECT_ENVIRONMENT := $(VENV)

# run-% and deploy-% stay out of .PHONY: make skips pattern rules for phony targets.
.PHONY: install test test-fast test-faults lint format bench bench-quick \
        soak observe new-service browser prometheus haproxy clean help

help:
	@echo "make run-websockets   start the live race service (SQLite, in-process fan-out)"
	@echo "make test             run the whole test suite"
	@echo "make install          create .venv with the pace command in it"
	@echo "make lint             ruff, mypy, actionlint, promtool"
	@echo "make bench            the side-by-side benchmark (docs/benchmarks.md)"
	@echo "make new-service NAME=x   add a service under services/x"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv>=0.5,<1"

$(VENV)/.installed: $(UV) uv.lock pyproject.toml $(wildcard packages/*/pyproject.toml services/*/pyproject.toml)
	$(UV) sync --frozen --all-packages
	@touch $@

install: $(VENV)/.installed

uv.lock: $(UV) pyproject.toml $(wildcard packages/*/pyproject.toml services/*/pyproject.toml)
	$(UV) lock
	@touch $@

# Every service under services/NAME runs as `python -m pace_NAME` and deploys with its fly.toml,
# so a new service gets run-NAME and deploy-NAME without anyone editing this file.
run-%: install
	$(RUN) python -m pace_$(subst -,_,$*)

deploy-%:
	@bash deploy/flydeploy.sh $*

# Debian's Chromium drives the browser tests (Playwright's own download cannot work here).
browser:
	@bash scripts/ensure-system-packages.sh chromium

prometheus:
	@bash scripts/ensure-system-packages.sh prometheus

# The scale-out tests put deploy/haproxy.cfg in front of two instances.
haproxy:
	@bash scripts/ensure-system-packages.sh haproxy

test: install browser prometheus haproxy
	$(RUN) pytest -m "not faults" $(PYTEST_ARGS)
	$(MAKE) bench-quick

test-fast: install
	$(RUN) pytest -m "not faults and not browser and not slow" -x $(PYTEST_ARGS)

test-faults: install
	$(RUN) pytest -m faults $(PYTEST_ARGS)

# Every member's sources, so a service made by new-service is type-checked too.
MYPY_SRC = $(wildcard packages/*/src services/*/src)

lint: install prometheus
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	MYPYPATH=$(subst $(eval) ,:,$(MYPY_SRC)) $(RUN) mypy $(MYPY_SRC)
	$(RUN) actionlint
	@bash deploy/prometheus/check.sh

format: install
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

bench: install
	$(UV) sync --frozen --all-packages --group bench
	$(RUN) python -m bench.run --full

bench-quick: install
	$(UV) sync --frozen --all-packages --group bench
	$(RUN) python -m bench.run --quick

soak: install
	$(RUN) python -m bench.soak

observe: install prometheus
	@bash deploy/prometheus/observe.sh

new-service: install
	@test -n "$(NAME)" || { echo "usage: make new-service NAME=name"; exit 2; }
	$(RUN) python scripts/new_service.py "$(NAME)"
	$(UV) lock
	$(UV) sync --frozen --all-packages

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
