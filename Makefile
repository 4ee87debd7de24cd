# Every user-facing command of the project. `make help` lists them; README.md explains each.
# Targets that need Python set up what they need first, so `make demo` and `make test` work on a fresh clone.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
USER_ID ?= $(shell $(PY) -m emulation.config user-id 2>/dev/null || echo demo)
STACK ?= host
LAKE ?= .local/lake
OUT ?= out/batch
STREAM_OUT ?= out/stream
TRIGGER ?= availableNow
TF_PLUGIN_DIR ?= $(if $(wildcard /opt/tf-plugins),/opt/tf-plugins,)

VENV := .venv
LS_VENV := .venv-localstack
AF_VENV := .venv-airflow
CK_VENV := .venv-checkov
PY := $(VENV)/bin/python
LOCALSTACK_FS := $(CURDIR)/.cache/localstack/filesystem
KINESIS_LOCAL := $(LOCALSTACK_FS)/var/lib/localstack/lib/kinesis-local/0.4.13

export USER_ID CHECKPOINT_DISABLE=1 TF_PLUGIN_DIR LOCALSTACK_FS

.PHONY: help setup lint format test local-up local-down local-status seed demo \
        emulate-batch emulate-stream run-batch run-stream bench plan apply destroy \
        import-notebooks deploy-job run-dag clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

# --- setup -----------------------------------------------------------------------------------------
$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	@touch $@

$(LS_VENV)/.installed: requirements-localstack.txt
	@test -x $(LS_VENV)/bin/python || $(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/python -m pip install -q --upgrade pip
	$(LS_VENV)/bin/python -m pip install -q -r requirements-localstack.txt
	@touch $@

$(KINESIS_LOCAL)/.installed:
	npm install --silent --no-audit --no-fund --prefix $(KINESIS_LOCAL) kinesis-local@0.4.13
	@touch $@

$(AF_VENV)/.installed: airflow/requirements.txt airflow/constraints.txt airflow/requirements-test.txt
	@test -x $(AF_VENV)/bin/python || $(PYTHON) -m venv $(AF_VENV)
	$(AF_VENV)/bin/python -m pip install -q --upgrade pip
	$(AF_VENV)/bin/python -m pip install -q -r airflow/requirements-test.txt -c airflow/constraints.txt
	@touch $@

$(CK_VENV)/.installed: requirements-checkov.txt
	@test -x $(CK_VENV)/bin/python || $(PYTHON) -m venv $(CK_VENV)
	$(CK_VENV)/bin/python -m pip install -q --upgrade pip
	$(CK_VENV)/bin/python -m pip install -q -r requirements-checkov.txt
	@touch $@

# The JVM class archive that halves Spark's start-up (databricks_local/session.py); skipped without Java.
SPARK_ARCHIVE := .cache/spark/.built
$(SPARK_ARCHIVE): $(VENV)/.installed
	@if ! command -v java >/dev/null && [ -z "$$JAVA_HOME" ]; then \
		echo "no java: Spark will start without a class archive"; \
	elif $(PY) -m local_stack.notebook_runner class-archive; then touch $@; \
	else echo "the class archive was not built (an optimisation only): Spark starts without it"; fi

setup: $(VENV)/.installed $(LS_VENV)/.installed $(KINESIS_LOCAL)/.installed $(AF_VENV)/.installed $(CK_VENV)/.installed $(SPARK_ARCHIVE) ## Create the venvs (project, LocalStack, Airflow, checkov), install LocalStack's Kinesis helper, build Spark's class archive

# --- quality ---------------------------------------------------------------------------------------
lint: $(VENV)/.installed ## ruff check + format check, terraform fmt check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@if command -v terraform >/dev/null; then terraform fmt -check -recursive terraform; else echo "terraform not found: skipping terraform fmt"; fi

format: $(VENV)/.installed ## Apply ruff format and fixes, terraform fmt
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .
	@if command -v terraform >/dev/null; then terraform fmt -recursive terraform; fi

test: setup ## Run the whole test suite (brings the local stack up itself and stops what it started)
	$(VENV)/bin/pytest tests --ignore=tests/airflow
	$(AF_VENV)/bin/python -m pytest tests/airflow -p no:cacheprovider

# --- local stack -----------------------------------------------------------------------------------
local-up: $(VENV)/.installed $(LS_VENV)/.installed $(KINESIS_LOCAL)/.installed ## Start LocalStack, Tansu, REST Proxy, S3 sink, the local Databricks workspace and apply terraform/envs/local (STACK=host|docker)
	$(PY) -m local_stack up --stack $(STACK) $(if $(REAPPLY),--reapply)

local-down: $(VENV)/.installed ## Stop every local component this project started (by PID)
	$(PY) -m local_stack down --stack $(STACK)

local-status: $(VENV)/.installed ## Show each local component's address and health
	$(PY) -m local_stack status --stack $(STACK)

seed: $(VENV)/.installed ## Write the synthetic source tables (ROWS=11000, DB_URL=sqlite:///.local/source.db)
	$(PY) -m emulation seed $(if $(ROWS),--rows $(ROWS)) $(if $(DB_URL),--db-url $(DB_URL))

emulate-batch: local-up ## Post the source tables through the API to the Kafka topics (ARGS="--rows 1000 ...")
	$(PY) -m emulation batch $(ARGS)

emulate-stream: local-up ## Put the source tables into the Kinesis streams through the API (ARGS="--rows 1000 ...")
	$(PY) -m emulation stream $(ARGS)

demo: $(VENV)/.installed $(LS_VENV)/.installed $(KINESIS_LOCAL)/.installed $(AF_VENV)/.installed $(SPARK_ARCHIVE) ## One command: local-up, seed, both paths (API -> Kafka -> lake -> Airflow DAG -> batch job -> batch notebook; API -> Kinesis -> stream notebook -> Delta), print what landed and the DAG's task states
	$(PY) -m local_stack.demo

run-batch: $(VENV)/.installed $(SPARK_ARCHIVE) ## Run the batch notebook on local Spark: LAKE=<dir|s3://...> USER_ID=<id> OUT=<dir>
	$(PY) -m local_stack.notebook_runner batch --lake $(LAKE) --user-id $(USER_ID) --out $(OUT)

run-stream: local-up $(SPARK_ARCHIVE) ## Run the stream notebook on local Spark: Kinesis -> Delta tables in STREAM_OUT (TRIGGER=availableNow|processingTime)
	$(PY) -m local_stack.notebook_runner stream --user-id $(USER_ID) --out $(STREAM_OUT) --trigger $(TRIGGER)

bench: setup ## Benchmarks: print a table and write out/bench/results.json
	$(PY) -m benchmarks

# --- AWS -------------------------------------------------------------------------------------------
TF_AWS := terraform -chdir=terraform/envs/aws

plan: ## terraform plan of the AWS environment (terraform/envs/aws)
	$(TF_AWS) init -input=false
	$(TF_AWS) plan -input=false

# umask 077, chmod 600 and 700: the state and the outputs (in a 0700 directory) hold the API key (chmod also covers
# files and directories from older runs).
apply: ## Build the whole AWS platform (terraform/envs/aws) and write its outputs (0600) to .local/outputs/aws.json
	@umask 077; chmod 600 terraform/envs/aws/*.tfstate* 2>/dev/null; \
	out="$${PIPELINE_STATE_DIR:-.local}/outputs/aws.json"; \
	$(TF_AWS) init -input=false && $(TF_AWS) apply -input=false; status=$$?; \
	chmod 600 terraform/envs/aws/*.tfstate* 2>/dev/null; [ $$status -eq 0 ] || exit $$status; \
	mkdir -p "$$(dirname "$$out")" && chmod 700 "$$(dirname "$$out")" && touch "$$out" && chmod 600 "$$out" && \
	$(TF_AWS) output -json > "$$out" && echo "outputs: $$out"

destroy: ## Remove everything `make apply` built
	$(TF_AWS) init -input=false
	$(TF_AWS) destroy -input=false

# --- Databricks ------------------------------------------------------------------------------------
# The jobs are the Databricks Asset Bundle's (databricks.yml, resources/*.yml). TARGET is its target: dev (the
# default, a personal development copy), prod, or local (the local stack's workspace, host and token from its outputs).
# `make import-notebooks --dry-run` (make's own -n) still runs the tool, in its --dry-run mode: the `+` line runs under -n.
MAKE_DRY_RUN := $(findstring n,$(firstword -$(MAKEFLAGS)))
TARGET_ARG = $(if $(TARGET),--target $(TARGET))
import-notebooks: $(VENV)/.installed ## Import notebooks/ into the bundle target's workspace folder (TARGET=dev|prod|local, `make import-notebooks --dry-run`)
	+$(PY) -m databricks_deploy import-notebooks $(TARGET_ARG) $(if $(or $(MAKE_DRY_RUN),$(DRY_RUN)),--dry-run) $(ARGS)

deploy-job: $(VENV)/.installed ## Create or update the bundle's jobs (batch, stream) by name through databricks-sdk (TARGET=dev|prod|local, ARGS="--var k=v --only batch")
	+$(PY) -m databricks_deploy deploy-job $(TARGET_ARG) $(if $(or $(MAKE_DRY_RUN),$(DRY_RUN)),--dry-run) $(ARGS)

run-dag: $(VENV)/.installed $(AF_VENV)/.installed ## Run the Airflow DAG once under Airflow 3.0.6 against the local workspace (on the running stack; imports and deploys first when needed)
	$(PY) -m local_stack.run_dag $(ARGS)

clean: ## Stop the local stack and remove local state and outputs (keeps the venvs)
	-$(PY) -m local_stack down
	rm -rf .local out
