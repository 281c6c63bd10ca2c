# Zzalu Realtime. `make run` serves the whole system locally; `make test` runs the whole suite.
# Both set everything up first (virtualenv, Kafka, Redis, topics, migrations): see README.md.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
SERVICES := ops/services.sh
PG_URL ?= postgres://zzalu:zzalu@127.0.0.1:5432/zzalu

.PHONY: run test lint format services services-stop services-status \
        setup topics bench

# Local development, asked for explicitly: the settings default to DEBUG off (a deployment),
# which refuses to start without a real SECRET_KEY. The tests ask in zzalu/settings/test.py.
run setup topics: export DEBUG ?= true

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

setup: $(BIN)/.installed services topics
	$(BIN)/python manage.py migrate --noinput

topics: $(BIN)/.installed services
	$(BIN)/python manage.py kafka_topics

## Serve the app (Daphne on 127.0.0.1:$(PORT)) with the relay and workers beside it.
run: setup
	$(BIN)/python manage.py demo_data
	PORT=$(PORT) ops/run.sh

## The whole test suite against real Kafka and Redis (and Debian's Chromium for the pages),
## on SQLite and then on PostgreSQL; lint first.
test: $(BIN)/.installed services
	ops/browser.sh
	$(SERVICES) start postgres
	$(BIN)/ruff check .
	$(BIN)/pytest
	DATABASE_URL=$(PG_URL) $(BIN)/pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

services:
	$(SERVICES) start

services-stop:
	$(SERVICES) stop
	$(SERVICES) stop postgres
	$(SERVICES) stop cluster

services-status:
	$(SERVICES) status
	$(SERVICES) status postgres
	$(SERVICES) status cluster

## The benchmark's short default (under three minutes): kafka pipeline against direct group_send.
bench: setup
	$(BIN)/pip install -q -r requirements-bench.txt
	$(BIN)/python -m bench
