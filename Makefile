# The commands people and CI use. `make synth` and `make test` install what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
TOOLS := .tools
UV := $(TOOLS)/bin/uv
ENV ?=
SYSTEM ?= payouts
PORT ?= 3000
ARGS ?=
# .tools/bin puts uv on PATH for the Lambda layer's local (Docker-free) bundling.
CDK := PATH="$(CURDIR)/$(VENV)/bin:$(CURDIR)/$(TOOLS)/bin:$$PATH" npx --no-install cdk

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := true
export UV_PYTHON_DOWNLOADS := never
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# The machine sets PYTHONDONTWRITEBYTECODE; without .pyc every process recompiles aws_cdk.
unexport PYTHONDONTWRITEBYTECODE

LINT_PATHS := app.py config cost_model cdk_constructs stacks lambda_src local simulators scripts tests
TYPED_PATHS := config cost_model cdk_constructs stacks lambda_src/shared lambda_src/payouts lambda_src/engine local simulators

.PHONY: help
help: ## List the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q uv==0.13.9

$(VENV)/.installed: requirements.txt requirements-dev.txt lambda_src/requirements.txt | $(UV)
	$(UV) venv -q --allow-existing -p "$$(scripts/find_python.sh)" $(VENV)
	$(UV) pip install -q --compile-bytecode --python $(PY) -r requirements-dev.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-fund --no-audit --loglevel=error
	@touch $@

.PHONY: venv
venv: $(VENV)/.installed ## Create the virtualenv (Python deps, pinned)

.PHONY: synth
synth: $(VENV)/.installed node_modules/.installed ## Synthesize every stack of every environment (ENV=dev for one) with all nag packs
	rm -rf cdk.out
	CDK_VALIDATION=false $(CDK) synth '**' --quiet $(if $(ENV),-c env=$(ENV),)
	$(PY) -m scripts.synth_summary cdk.out

.PHONY: lint
lint: $(VENV)/.installed ## ruff, ruff format --check, mypy
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(VENV)/bin/mypy $(TYPED_PATHS)

.PHONY: test
test: $(VENV)/.installed lint ## Every test: unit, integration, infra (snapshots, nag, cfn-lint)
	CDK_VALIDATION=false $(PY) -m pytest -q

.PHONY: snapshot-update
snapshot-update: $(VENV)/.installed ## Rewrite the infra snapshots (review the diff!)
	CDK_VALIDATION=false $(PY) -m pytest -q tests/infra --snapshot-update

.PHONY: local
local: $(VENV)/.installed ## Serve every API route locally on PORT (3000) with moto + simulators: make local ARGS="--fast --data-dir .local-data"
	$(PY) -m local --port $(PORT) $(ARGS)

.PHONY: openapi
openapi: $(VENV)/.installed ## Regenerate docs/openapi.json from the route declarations
	$(PY) -m local.openapi --output docs/openapi.json

.PHONY: cost
cost: $(VENV)/.installed ## Price every template in cdk.out (synthesizes first if it is missing); exits 1 over a budget
	@test -f cdk.out/manifest.json || $(MAKE) synth
	$(PY) -m cost_model cdk.out --json cost-report.json --chart cost-report.svg

.PHONY: bench
bench: $(VENV)/.installed ## Benchmarks: import ratios, AWS calls per operation, synth ratio -> bench-results.json
	CDK_VALIDATION=false $(PY) scripts/bench.py

# Payouts stages are named after the environment (dev/**), the engine's engine-<env>/**.
STAGE_GLOB = $(if $(filter engine,$(SYSTEM)),engine-$(ENV),$(ENV))/**
DEPLOY_USAGE = usage: make deploy ENV=dev|staging|prod [SYSTEM=payouts] or ENV=dev|qa|staging|prod SYSTEM=engine

.PHONY: deploy
deploy: $(VENV)/.installed node_modules/.installed ## Deploy one environment of one system: make deploy ENV=dev [SYSTEM=engine]
	@test -n "$(ENV)" || { echo "$(DEPLOY_USAGE)"; exit 2; }
	rm -rf cdk.out
	$(CDK) deploy '$(STAGE_GLOB)' -c system=$(SYSTEM) -c env=$(ENV) -c strict=true --require-approval broadening

.PHONY: diff
diff: $(VENV)/.installed node_modules/.installed ## Show what a deploy would change: make diff ENV=dev [SYSTEM=engine]
	@test -n "$(ENV)" || { echo "$(DEPLOY_USAGE)"; exit 2; }
	$(CDK) diff '$(STAGE_GLOB)' -c system=$(SYSTEM) -c env=$(ENV)

.PHONY: redrive-webhooks
redrive-webhooks: $(VENV)/.installed ## Move Monoova webhook dead letters to the replay queue: make redrive-webhooks ENV=prod
	@test -n "$(ENV)" || { echo "usage: make redrive-webhooks ENV=dev|staging|prod"; exit 2; }
	$(PY) scripts/redrive_webhooks.py --env $(ENV)

.PHONY: clean
clean: ## Remove build output (cdk.out); keeps the virtualenv
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache bench-results.json
