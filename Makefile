# hipflask: `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV ?= $(CURDIR)/.venv
PY := $(VENV)/bin/python
PORT ?= 8080
COMPOSE ?= docker compose
export PORT

.PHONY: help build run debug start stop status token lint test test-unit test-service test-system test-faults bench docs migrate-to-postgres swarm-up swarm-down clean clean-data

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

build: ## set up: virtualenv, dependencies, Redis and nginx; with Docker, also the compose images
	@scripts/setup.sh
	@if docker info >/dev/null 2>&1; then $(COMPOSE) build; else echo "build: no Docker here; compose images not built"; fi

run: ## run the native stack in the foreground on http://127.0.0.1:$(PORT) (Ctrl-C stops it)
	@scripts/setup.sh
	@exec $(PY) scripts/stack.py run --port $(PORT)

debug: ## like run, with Flask's debug server and code reloading (NOT for production)
	@scripts/setup.sh
	@exec $(PY) scripts/stack.py run --debug --port $(PORT)

start: ## production mode in the background: compose when Docker runs, else the native stack (var/)
	@if docker info >/dev/null 2>&1; then GATEWAY_PORT=$(PORT) $(COMPOSE) up -d --build --wait; \
	else scripts/setup.sh && $(PY) scripts/stack.py start --port $(PORT); fi

stop: ## stop what `make start` started
	@if [ -f var/run/stack.pid ]; then $(PY) scripts/stack.py stop; fi
	@if docker info >/dev/null 2>&1; then $(COMPOSE) down; fi

token: ## print a token: make token NS=alice SCOPE=write TTL=30d (signed with AUTH_KEYS / AUTH_KEYS_FILE)
	@scripts/setup.sh >/dev/null
	@$(PY) -m hipflask.mint --ns "$(NS)" --scope "$(or $(SCOPE),read)" --ttl "$(or $(TTL),1h)"

status: ## the /diagnostic summary as a table
	@$(PY) scripts/status.py http://127.0.0.1:$(PORT)

lint: ## ruff (lint + import order) over every Python file, then mypy over shared/ and services/ (pyproject.toml)
	@scripts/setup.sh --test >/dev/null
	@$(PY) -m ruff check --quiet .
	@$(PY) -m mypy
	@echo "lint: clean"

test: lint ## lint, then the whole suite: unit, service, system and fault tiers (native and compose stacks), then the quick bench passes (native, PostgreSQL, the features: they check that every scenario runs, never a speed)
	@scripts/setup.sh --test
	@$(PY) -m pytest tests
	@$(PY) bench/run.py --quick
	@$(PY) bench/run.py --quick --postgres
	@$(PY) bench/run.py --quick --features

test-unit: ## the library's unit tests
	@scripts/setup.sh --test
	@$(PY) -m pytest tests/unit

test-service: ## each service with its test client and a real Redis
	@scripts/setup.sh --test
	@$(PY) -m pytest tests/service

test-system: ## HTTP through the gateway, against the native and the compose stack
	@scripts/setup.sh --test
	@$(PY) -m pytest tests/system

test-faults: ## the stacks hurt on purpose: kill -9 under load, Redis outages, the stack killed, cut-off bodies, depth bombs, a full disk, slow clients
	@scripts/setup.sh --test
	@$(PY) -m pytest tests/faults

docs: ## the HTML API reference from the route docstrings, in docs/_build/html
	@scripts/setup.sh --docs
	@$(PY) -m sphinx -W -q -b html docs docs/_build/html
	@echo "docs: docs/_build/html/index.html"

bench: ## benchmarks through the gateway against both bare-Flask ceilings: native, compose (with Docker), PostgreSQL, the features' costs (bench/RESULTS.md)
	@scripts/setup.sh --test
	@$(PY) bench/run.py $(or $(BENCH_ARGS),--all)

migrate-to-postgres: ## copy the native stack's SQLite data (var/data/store, var/data/kv) into DATABASE_URL's PostgreSQL
	@scripts/setup.sh
	@PYTHONPATH=services/store DATA_DIR=$${VAR_DIR:-var}/data/store $(PY) -m store.migrate
	@PYTHONPATH=services/kv DATA_DIR=$${VAR_DIR:-var}/data/kv $(PY) -m kv.migrate

swarm-up: ## build the images and deploy deploy/swarm.yml on Docker Swarm (a single-node swarm is made if none)
	@scripts/swarm.sh up

swarm-down: ## remove the swarm stack (its volumes and secrets are kept)
	@scripts/swarm.sh down

clean: ## remove run state, temporary files, caches and the virtualenv (never stored data)
	rm -rf var/run var/log var/setup.lock .pytest_cache .mypy_cache .ruff_cache docs/_build $(VENV)
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

clean-data: ## delete stored data: var/data and var/redis (says what it deletes)
	@echo "clean-data: deleting $(CURDIR)/var/data and $(CURDIR)/var/redis"
	rm -rf var/data var/redis
