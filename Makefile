# Two commands on a fresh machine: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test install migrate lint worker beat web clean messaging-sim

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py sync_schedules

# Installs, migrates, seeds the demo club through the event endpoint, prints a login, then serves the app on
# 127.0.0.1:8000 together with a Celery worker and beat on the embedded filesystem broker.
run: migrate
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py setup_demo
	$(BIN)/python manage.py setup_demo_segments
	$(BIN)/honcho -f Procfile.dev start

# The whole suite, on SQLite by default or on PostgreSQL when DATABASE_URL points there.
test: install
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py events_catalog --check
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# The local Messaging service stand-in on 127.0.0.1:8025 (`make run` starts it too); see docs/messaging.md.
messaging-sim: install
	$(BIN)/python -m simulators.messaging --port 8025

clean:
	rm -rf var/broker var/cache
