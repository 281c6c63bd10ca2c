# Zzalu Realtime. `make run` serves the whole system locally; `make test` runs the whole suite.
# Both set everything up first (virtualenv, Kafka, Redis, topics, migrations): see README.md.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
SERVICES := python3 ops/services.py
PG_URL ?= postgres://zzalu:zzalu@127.0.0.1:5432/zzalu

.PHONY: run test test-fast lint format services services-stop services-status \
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
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0

topics: $(BIN)/.installed services
	$(BIN)/python manage.py kafka_topics

## Serve the app: the Procfile's processes (Uvicorn on 127.0.0.1:$(PORT), relay, sweeper,
## scheduler) under honcho; Ctrl-C stops them all.
run: setup
	$(BIN)/python manage.py demo_data
	@echo "Zzalu Realtime: http://127.0.0.1:$(PORT)/ (API docs /api/docs/); demo / zzalu-demo-1234"
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/honcho start -f Procfile -p $(PORT)

## The whole test suite against real Kafka and Redis (and Debian's Chromium for the pages),
## on SQLite and then on PostgreSQL; lint first.
test: $(BIN)/.installed
	$(SERVICES) start redis kafka postgres browser
	$(BIN)/ruff check .
	$(BIN)/pytest
	DATABASE_URL=$(PG_URL) $(BIN)/pytest

## The inner loop (well under a minute): only tests that need no Kafka, Redis, browser or server
## process; the others are deselected, and Kafka and Redis point where nothing listens.
test-fast: $(BIN)/.installed
	$(BIN)/pytest --fast

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

services:
	$(SERVICES) start

services-stop:
	$(SERVICES) stop all

services-status:
	$(SERVICES) status all

## The benchmark's short default (under three minutes): the kafka pipeline, the tutorial's
## direct group_send and a raw broadcast server (floor) in 20 x 10 rooms at 100 msg/s; one room
## of 2,000 sockets at 10 msg/s and a join storm of 2,000 sockets (kafka and floor). Longer
## runs: BENCH_ARGS="..." (python -m bench --help, docs/performance.md).
bench: setup
	$(BIN)/pip install -q -r requirements-bench.txt
	$(BIN)/python -m bench $(BENCH_ARGS)
