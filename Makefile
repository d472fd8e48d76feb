# Conductor: `make run` starts it locally, `make test` runs every test. Both set up .venv first:
# `make run` installs only what running Conductor needs (requirements-local.txt), `make test` adds
# the test toolchain (requirements-dev.txt). uv installs them (about ten times faster than pip).
# Python 3.13, the functions' Lambda runtime (python3.13, Amazon Linux 2023; Chalice packages for
# the Python that runs it): a python3.13 on PATH, else one that pyenv installed; PYTHON=... to choose.
PYTHON ?= $(shell for p in python3.13 $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.13*/bin/python3.13; do \
	"$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null && { echo "$$p"; break; }; done)
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
UV_VERSION := 0.13.9
# a venv made by another Python (3.11, before the move to 3.13) is made again
PY_STAMP   := $(VENV)/.python-3.13
RUN_STAMP  := $(VENV)/.installed-run
DEV_STAMP  := $(VENV)/.installed-dev
# Parallel test workers: the suite waits on sockets, subprocesses and a browser as much as it
# computes, so more workers than the machine's 2 cores still pay off (bench: README).
WORKERS ?= 4
PYTEST := $(BIN)/python -m pytest -n $(WORKERS) --dist loadfile

.PHONY: install install-run run test test-fast chaos fuzz lint bench clean deploy destroy package admin-key backfill

install: $(DEV_STAMP)
install-run: $(RUN_STAMP)

$(PY_STAMP):
	@test -n "$(PYTHON)" || { echo "Python 3.13 not found: install it (python.org, pyenv, or" \
		"your system's packages) or pass PYTHON=/path/to/python3.13" >&2; exit 1; }
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	touch $@

$(RUN_STAMP): $(PY_STAMP) requirements.txt requirements-local.txt client/pyproject.toml
	$(UV) pip install --quiet --python $(BIN)/python -r requirements-local.txt
	touch $@

$(DEV_STAMP): $(RUN_STAMP) requirements-dev.txt package.json package-lock.json
	$(UV) pip install --quiet --python $(BIN)/python -r requirements-dev.txt
	npm ci --no-audit --no-fund --silent  # Biome, the dashboard's JavaScript lint and format check
	touch $@

run: install-run  ## Conductor locally: moto, API :8000, workers, WebSocket :8001
	exec $(BIN)/python -m devserver $(ARGS)

test: install  ## every test: unit, functional, end to end, browser, a few fuzz cases per operation
	$(PYTEST)

test-fast: install  ## without the end-to-end and browser tests
	$(PYTEST) -m "not e2e"

chaos: install  ## the fault harness, longer: more random-fault runs (1 %, 5 %, 20 %), 20 SIGTERMs
	CONDUCTOR_CHAOS=1 CONDUCTOR_SIGTERM_MOMENTS=20 $(BIN)/python -m pytest -n 2 --dist loadfile \
		--timeout 3600 tests/functional/test_faults.py tests/e2e/test_runtime_promises.py

fuzz: install  ## the API against its OpenAPI document, many generated cases per operation
	CONDUCTOR_FUZZ_EXAMPLES=$${CONDUCTOR_FUZZ_EXAMPLES:-100} $(BIN)/python -m pytest -n $(WORKERS) \
		--timeout 1800 tests/functional/test_openapi.py -k test_api_conforms_to_its_document

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .  # the Python layout, as biome checks the JavaScript
	./node_modules/.bin/biome check
	$(BIN)/cfn-lint infra/template.yaml

bench: install  ## cold start, middleware, AWS calls, hot items: each measured side by side in one run
	$(BIN)/python bench/coldstart.py
	$(BIN)/python bench/first_request.py
	$(BIN)/python bench/middleware.py
	$(BIN)/python bench/retries.py
	$(BIN)/python bench/tick.py
	$(BIN)/python bench/webhooks.py
	$(BIN)/python bench/fanout.py
	$(BIN)/python bench/dashboard.py
	$(BIN)/python bench/calls.py
	$(BIN)/python bench/hot_items.py

STAGE ?= dev
export AWS_DEFAULT_REGION ?= us-east-1

deploy: install-run  ## make deploy STAGE=dev: the infra stack (boto3), then chalice deploy
	$(BIN)/python -m infra.build deploy-infra --stage $(STAGE)
	CONDUCTOR_STAGE=$(STAGE) $(BIN)/chalice deploy --stage $(STAGE)
	$(BIN)/python -m infra.build batch-failures --stage $(STAGE)  # chalice sets none

destroy: install-run  ## make destroy STAGE=dev [DELETE_TABLES=1]: the app, the stack (tables kept)
	CONDUCTOR_STAGE=$(STAGE) $(BIN)/chalice delete --stage $(STAGE)
	$(BIN)/python -m infra.build destroy-infra --stage $(STAGE) $(if $(DELETE_TABLES),--delete-tables,)

admin-key: install-run  ## make admin-key STAGE=dev: a new admin API key in a deployed stage
	$(BIN)/python -m infra.build admin-key --stage $(STAGE)

backfill: install-run  ## make backfill STAGE=prod: after an upgrade, index keys for older items
	$(BIN)/python -m infra.build backfill --stage $(STAGE)

package: install  ## make package STAGE=prod: one SAM template (app + infra) in build/package-$(STAGE)
	mkdir -p build
	$(BIN)/python -m infra.build merge --stage $(STAGE) > build/merge-$(STAGE).json
	rm -rf build/package-$(STAGE)
	CONDUCTOR_STAGE=$(STAGE) $(BIN)/chalice package --stage $(STAGE) \
		--merge-template build/merge-$(STAGE).json build/package-$(STAGE)
	$(BIN)/cfn-lint build/package-$(STAGE)/sam.json

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache .hypothesis
