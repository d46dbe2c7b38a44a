# leadscore: `make demo` and `make test` are all a newcomer needs.
.DEFAULT_GOAL := help
SHELL := /bin/bash

UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
DEMO_DIR ?= demo/crm
DEMO_LEADS ?= 5000
# the demo CRM's export day (its activity ends on 31 Oct 2026): scores as sales would have seen them
DEMO_AS_OF ?= 2026-11-01
PORT ?= 3000

.PHONY: help install demo test lint serve bench clean

help: ## Show this help
	@if [ -t 1 ]; then c='\033[36m'; r='\033[0m'; else c=''; r=''; fi; \
	grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | \
	awk -v c="$$c" -v r="$$r" 'BEGIN {FS = ":.*?## "}; {printf "  %s%-10s%s %s\n", c, $$1, r, $$2}'

.venv/.synced: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen
	@touch $@

install: .venv/.synced ## Create the environment from uv.lock

demo: install ## Demo CRM -> validate -> train and register the champion -> score -> a lead card
	$(UV) run leadscore demo-data --out $(DEMO_DIR) --leads $(DEMO_LEADS) --seed 7
	$(UV) run leadscore validate $(DEMO_DIR)
	$(UV) run leadscore train $(DEMO_DIR)
	$(UV) run leadscore score $(DEMO_DIR) --out demo/scores.parquet --show-top 1 --as-of $(DEMO_AS_OF)

serve: install ## Start the HTTP service on PORT (token: LEADSCORE_API_TOKENS, default demo-token)
	LEADSCORE_API_TOKENS=$${LEADSCORE_API_TOKENS:-demo-token} LEADSCORE_DATA=$${LEADSCORE_DATA:-$(DEMO_DIR)} \
		$(UV) run leadscore serve --port $(PORT)

test: install ## Lint and run the whole test suite
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run pytest

lint: install ## Fix what ruff can fix and format the code
	$(UV) run ruff check --fix .
	$(UV) run ruff format .

bench: install ## Run the benchmarks (each prints a comparison table)
	$(UV) run python -m benchmarks.features
	$(UV) run python -m benchmarks.train
	$(UV) run python -m benchmarks.serve
	$(UV) run python -m benchmarks.quality

clean: ## Remove generated demo data and local stores (keeps the environment)
	rm -rf demo models/mlflow.db models/artifacts models/cache models/audit.db
