# Conductor: `make run` starts it locally, `make test` runs every test. Both set up .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test test-fast lint bench clean deploy destroy package admin-key

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

run: install  ## Conductor locally: moto, API :8000, workers, WebSocket :8001
	$(BIN)/python -m devserver $(ARGS)

test: install  ## lint-free code, unit + functional + end-to-end tests
	$(BIN)/python -m pytest

test-fast: install  ## without the end-to-end tests
	$(BIN)/python -m pytest -m "not e2e"

lint: install
	$(BIN)/ruff check .
	$(BIN)/cfn-lint infra/template.yaml

bench: install  ## cold start and middleware cost, each measured side by side in one run
	$(BIN)/python bench/coldstart.py
	$(BIN)/python bench/middleware.py
	$(BIN)/python bench/retries.py
	$(BIN)/python bench/tick.py
	$(BIN)/python bench/webhooks.py
	$(BIN)/python bench/fanout.py
	$(BIN)/python bench/dashboard.py

STAGE ?= dev
export AWS_DEFAULT_REGION ?= us-east-1

deploy: install  ## make deploy STAGE=dev: the infra stack (boto3), then chalice deploy
	$(BIN)/python -m infra.build deploy-infra --stage $(STAGE)
	CONDUCTOR_STAGE=$(STAGE) $(BIN)/chalice deploy --stage $(STAGE)

destroy: install  ## make destroy STAGE=dev [DELETE_TABLES=1]: the app, the stack (tables kept)
	CONDUCTOR_STAGE=$(STAGE) $(BIN)/chalice delete --stage $(STAGE)
	$(BIN)/python -m infra.build destroy-infra --stage $(STAGE) $(if $(DELETE_TABLES),--delete-tables,)

admin-key: install  ## make admin-key STAGE=dev: a new admin API key in a deployed stage
	$(BIN)/python -m infra.build admin-key --stage $(STAGE)

package: install  ## make package STAGE=prod: one SAM template (app + infra) in build/package-$(STAGE)
	mkdir -p build
	$(BIN)/python -m infra.build merge --stage $(STAGE) > build/merge-$(STAGE).json
	rm -rf build/package-$(STAGE)
	CONDUCTOR_STAGE=$(STAGE) $(BIN)/chalice package --stage $(STAGE) \
		--merge-template build/merge-$(STAGE).json build/package-$(STAGE)
	$(BIN)/cfn-lint build/package-$(STAGE)/sam.json

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
