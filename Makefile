# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint format install demo migrate ci-services worker beat clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

## Start Beam with a demo store installed and populated (SQLite, in-process tasks, devstore).
run: $(STAMP)
	$(PY) manage.py migrate --noinput
	SHOPIFY_APP_URL=$${SHOPIFY_APP_URL:-http://127.0.0.1:$${PORT:-8000}} $(PY) manage.py demo_setup
	SHOPIFY_APP_URL=$${SHOPIFY_APP_URL:-http://127.0.0.1:$${PORT:-8000}} $(PY) manage.py runserver 127.0.0.1:$${PORT:-8000}

## Run the whole test suite (uses DATABASE_URL / REDIS_URL when set, else SQLite).
test: $(STAMP)
	bash scripts/ensure_browser.sh
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) manage.py makemigrations --check --dry-run

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

worker: $(STAMP)
	$(VENV)/bin/celery -A config worker -l info

beat: $(STAMP)
	$(VENV)/bin/celery -A config beat -l info

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
