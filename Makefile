# Roster: `make run` for a local server on SQLite, `make test` for the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: install run test lint format bench clean

$(STAMP): requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	@touch $(STAMP)

install: $(STAMP)

run: export DEBUG ?= 1
run: export PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)
run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	@test -s .demo-owner-password || $(BIN)/python -c "import secrets; print(secrets.token_urlsafe(12))" > .demo-owner-password
	@DEMO_OWNER_PASSWORD="$$(cat .demo-owner-password)" $(BIN)/python manage.py seed_demo
	@echo ""
	@echo "Console: $(PUBLIC_BASE_URL)/console/login/  (owner@demo.example, password above)"
	@echo "Operations admin: $(PUBLIC_BASE_URL)/admin/  (python manage.py createsuperuser)"
	@echo ""
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
