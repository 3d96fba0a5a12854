# Roster: `make run` for a local server on SQLite, `make test` for the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# axe-core for the browser tests' accessibility checks, pinned by its package-lock.json.
BROWSER_JS := tests/browser
AXE := $(BROWSER_JS)/node_modules/axe-core/axe.min.js
# The OpenID Provider the OpenID Connect tests start (oidc-provider), pinned the same way.
OIDC_PROVIDER_JS := tests/oidc_provider
OIDC_PROVIDER := $(OIDC_PROVIDER_JS)/node_modules/oidc-provider/package.json
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: install browser-js lock check-lock run test lint format bench clean

# Development installs requirements-dev.lock (runtime plus the "dev" group); production
# installs requirements.lock alone (docs/deployment.md). Both carry hashes.
$(STAMP): requirements-dev.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	@touch $(STAMP)

install: $(STAMP)

# Regenerate both locks from pyproject.toml with uv (pinned in the "lint" group). uv
# resolves against PyPI only, so the hashes are the ones any machine will verify. Existing
# pins are kept unless pyproject.toml needs otherwise; `make lock UPGRADE=--upgrade` lifts them.
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --quiet --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command "make lock" $(UPGRADE)

lock: $(STAMP)
	$(UV_COMPILE) -o requirements.lock
	$(UV_COMPILE) --group dev -o requirements-dev.lock

# CI: the committed locks are what `make lock` gives for pyproject.toml (no hand edits,
# no dependency added without relocking).
check-lock: $(STAMP)
	@tmp="$$(mktemp -d)" && cp requirements.lock requirements-dev.lock "$$tmp"/ && \
	  $(UV_COMPILE) -o "$$tmp/requirements.lock" && \
	  $(UV_COMPILE) --group dev -o "$$tmp/requirements-dev.lock" && \
	  diff -u requirements.lock "$$tmp/requirements.lock" && \
	  diff -u requirements-dev.lock "$$tmp/requirements-dev.lock"; \
	  status=$$?; rm -rf "$$tmp"; exit $$status

# npm ci installs exactly the locked versions; --ignore-scripts: nothing runs, no
# browser is downloaded (the tests use the system Chromium).
$(AXE): $(BROWSER_JS)/package.json $(BROWSER_JS)/package-lock.json
	npm ci --prefix $(BROWSER_JS) --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $(AXE)

$(OIDC_PROVIDER): $(OIDC_PROVIDER_JS)/package.json $(OIDC_PROVIDER_JS)/package-lock.json
	npm ci --prefix $(OIDC_PROVIDER_JS) --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $(OIDC_PROVIDER)

browser-js: $(AXE) $(OIDC_PROVIDER)

# The webhook worker (procrastinate) needs PostgreSQL: with a postgres DATABASE_URL it
# runs beside the server; on SQLite it is not started, and the console's Integrations
# page says that deliveries are recorded, not sent.
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
	@case "$${DATABASE_URL:-}" in \
	  postgres*) \
	    echo "Worker: python manage.py run_worker, beside the server and stopped with it."; \
	    $(BIN)/python manage.py run_worker & worker=$$!; \
	    trap 'kill -TERM $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	    $(BIN)/python manage.py runserver $(HOST):$(PORT) ;; \
	  *) \
	    echo "Worker: not started. Webhooks are sent by python manage.py run_worker, which"; \
	    echo "needs PostgreSQL: DATABASE_URL=postgres://... make run (see docs/events.md)."; \
	    $(BIN)/python manage.py runserver $(HOST):$(PORT) ;; \
	esac

# Without npm the browser tests' accessibility checks and the OpenID Connect tests against
# the real provider skip (CI installs npm and runs them).
test: $(STAMP)
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory browser-js; fi
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) staticfiles .pytest_cache $(BROWSER_JS)/node_modules $(OIDC_PROVIDER_JS)/node_modules
