# The commands people and CI use. `make synth` and `make test` install what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
TOOLS := .tools
UV := $(TOOLS)/bin/uv
ENV ?=
# Empty: synth and cost take every system; diff and deploy take payouts.
SYSTEM ?=
PORT ?= 3000
ARGS ?=
# .tools/bin puts uv on PATH for building the Lambda layers (Docker-free, once: .build/layers).
CDK := PATH="$(CURDIR)/$(VENV)/bin:$(CURDIR)/$(TOOLS)/bin:$$PATH" npx --no-install cdk --no-notices

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := true
export UV_PYTHON_DOWNLOADS := never
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export NPM_CONFIG_UPDATE_NOTIFIER := false
# uv reads its own CA bundle unless told to use the platform's store, where a TLS-inspecting
# proxy's CA is installed (SSL_CERT_FILE, when set, is honoured as well).
export UV_SYSTEM_CERTS ?= 1
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

# ENV= and SYSTEM= select alike for synth, cost, diff and deploy; an unknown name stops here
# with one line listing the valid ones.
SELECT_ARGS = $(if $(ENV),--env $(ENV)) $(if $(SYSTEM),--system $(SYSTEM))
CONTEXT_ARGS = $(if $(ENV),-c env=$(ENV)) $(if $(SYSTEM),-c system=$(SYSTEM))
# Not news: the summary lists every stack, and the app has already said why it failed.
CLI_CHATTER := ^(Successfully synthesized to |Supply a stack id |python3 app.py: Subprocess exited with error)

.PHONY: selection
selection: $(VENV)/.installed
	@$(if $(ENV)$(SYSTEM),$(PY) -m config.selection $(SELECT_ARGS),true)

.PHONY: synth
synth: selection node_modules/.installed ## Synthesize every stack with all nag packs and CDK's template validation (ENV=dev, SYSTEM=engine to narrow)
	rm -rf cdk.out
	set -o pipefail; $(CDK) synth '**' --quiet $(CONTEXT_ARGS) 2>&1 | { grep -Ev '$(CLI_CHATTER)' || true; }
	$(PY) -m scripts.synth_summary cdk.out

.PHONY: lint
lint: $(VENV)/.installed ## ruff, ruff format --check, mypy
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(VENV)/bin/mypy $(TYPED_PATHS)

.PHONY: test
test: $(VENV)/.installed lint ## Every test: unit, integration, infra (snapshots, nag, cfn-lint, CDK's template validation)
	CDK_VALIDATION=false $(PY) -m pytest -q

.PHONY: snapshot-update
snapshot-update: $(VENV)/.installed ## Rewrite the infra snapshots (review the diff!)
	CDK_VALIDATION=false $(PY) -m pytest -q tests/infra --snapshot-update

.PHONY: local
local: $(VENV)/.installed ## Every API locally (payouts on PORT=3000, portal, internal and the simulators after it; docs/local.md): make local ARGS="--fast"
	$(PY) -m local --port $(PORT) $(ARGS)

.PHONY: openapi
openapi: $(VENV)/.installed ## Regenerate docs/openapi.json from the route declarations
	$(PY) -m local.openapi --output docs/openapi.json

.PHONY: cost
cost: selection ## Price the selected environments (every one; ENV=, SYSTEM= to narrow), synthesizing what cdk.out lacks; exits 1 over a budget
	@$(PY) -m cost_model cdk.out $(SELECT_ARGS) --check || $(MAKE) --no-print-directory synth
	$(PY) -m cost_model cdk.out $(SELECT_ARGS) --json cost-report.json --chart cost-report.svg

.PHONY: bench
bench: $(VENV)/.installed ## Benchmarks: import ratios, AWS calls per operation, synth ratio -> bench-results.json
	CDK_VALIDATION=false $(PY) scripts/bench.py

.PHONY: preflight
preflight: $(VENV)/.installed ## Before a first deploy: the account's quotas against ENV's stacks (Lambda concurrency, VPC, API Gateway, SMS/SES): make preflight ENV=prod [SYSTEM=engine]
	@test -n "$(ENV)" || { echo "usage: make preflight ENV=<env> [SYSTEM=payouts|engine]"; exit 2; }
	$(PY) -m scripts.preflight --env $(ENV) $(if $(SYSTEM),--system $(SYSTEM))

# Payouts stages are named after the environment (dev/**), the engine's engine-<env>/**.
DEPLOY_SYSTEM = $(or $(SYSTEM),payouts)
STAGE_GLOB = $(if $(filter engine,$(DEPLOY_SYSTEM)),engine-$(ENV),$(ENV))/**

# Runs first, so a missing ENV installs nothing; ACTION is set per target (diff, deploy).
.PHONY: need-env
need-env:
	@test -n "$(ENV)" || { echo "usage: make $(ACTION) ENV=dev|staging|prod [SYSTEM=payouts], or make $(ACTION) ENV=dev|qa|staging|prod SYSTEM=engine"; exit 2; }

# Credentials and a real account, each missing one named in a line (CDK_ACCOUNT_<ENV>, ...).
.PHONY: deploy-check
deploy-check: $(VENV)/.installed
	@$(PY) -m scripts.deploy_check --action $(ACTION) --system $(DEPLOY_SYSTEM) --env $(ENV)

.PHONY: deploy
deploy: ACTION := deploy
deploy: need-env deploy-check node_modules/.installed ## Deploy one environment of one system: make deploy ENV=dev [SYSTEM=engine]
	rm -rf cdk.out
	$(CDK) deploy '$(STAGE_GLOB)' -c system=$(DEPLOY_SYSTEM) -c env=$(ENV) -c strict=true --require-approval broadening

# DR failover: the Singapore stacks of an engine environment are the ones whose ids start
# with Dr (a test holds that); --exclusively deploys them without their Mumbai dependencies.
DR_STACK_GLOB = engine-$(ENV)/Dr*

.PHONY: dr-env-check
dr-env-check: $(VENV)/.installed
	@test -n "$(ENV)" || { echo "usage: make deploy-dr ENV=staging|prod"; exit 2; }
	@$(PY) -c 'import sys; from config.engine import ENVIRONMENTS as e; c = e.get("$(ENV)"); sys.exit(0 if c and c.dr_enabled else "engine $(ENV) has no DR stacks: deploy-dr is for the engine environments with DR")'

.PHONY: deploy-dr
deploy-dr: ACTION := deploy-dr
deploy-dr: DEPLOY_SYSTEM := engine
deploy-dr: dr-env-check deploy-check node_modules/.installed ## DR failover: deploy only the engine's Singapore stacks, nothing in Mumbai: make deploy-dr ENV=prod
	rm -rf cdk.out
	$(CDK) deploy '$(DR_STACK_GLOB)' --exclusively -c system=engine -c env=$(ENV) -c strict=true --require-approval broadening

.PHONY: diff
diff: ACTION := diff
diff: need-env deploy-check node_modules/.installed ## Show what a deploy would change: make diff ENV=dev [SYSTEM=engine]
	$(CDK) diff '$(STAGE_GLOB)' -c system=$(DEPLOY_SYSTEM) -c env=$(ENV)

.PHONY: redrive-webhooks
redrive-webhooks: $(VENV)/.installed ## Move webhook dead letters to their replay queue: make redrive-webhooks ENV=prod [SYSTEM=engine]
	@test -n "$(ENV)" || { echo "usage: make redrive-webhooks ENV=<env> [SYSTEM=payouts|engine]"; exit 2; }
	$(PY) scripts/redrive_webhooks.py --env $(ENV) $(if $(SYSTEM),--system $(SYSTEM))

.PHONY: clean
clean: ## Remove build output (cdk.out); keeps the virtualenv and the built layers (.build/)
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache bench-results.json
