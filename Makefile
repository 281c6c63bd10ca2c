# Zzalu Realtime. `make run` serves the whole system locally; `make test` runs the whole suite.
# Both set everything up first (virtualenv, Kafka, Redis, topics, migrations): see README.md.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
SERVICES := ops/services.sh

.PHONY: run test test-pg test-cluster lint format services services-stop services-status \
        setup topics bench clean-local

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

## The whole test suite against real Kafka and Redis.
test: $(BIN)/.installed services
	$(BIN)/pytest

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

services-status:
	$(SERVICES) status

bench: setup
	$(BIN)/python -m bench
