# lithomap — `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(abspath $(BIN)):$(PATH)
export MPLBACKEND := Agg
export TF_CPP_MIN_LOG_LEVEL := 3

.DEFAULT_GOAL := help
.PHONY: help setup demo retrain serve test test-slow test-all lint format bench clean mlflow-ui optuna-ui dashboard

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@test -n "$(PYTHON)" || { echo "need python3.11 on PATH (or set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP) ## create .venv and install lithomap with pinned dependencies

demo: $(STAMP) ## synthetic data -> validated -> cubes -> datasets -> trained -> registered -> champions -> maps, reports (DVC + MLflow)
	$(BIN)/dvc repro
	$(BIN)/dvc push
	@$(BIN)/lithomap summary
	@echo "Maps: maps/<region>/<model>-thermal/; reports: reports/<region>/index.html; pictures: reports/quicklook/, reports/datasets/, reports/evaluation/; MLflow: make mlflow-ui"

retrain: $(STAMP) ## the demo pipeline through Prefect: regions in parallel, one summary (ephemeral API)
	$(BIN)/lithomap retrain
	$(BIN)/dvc push
	@$(BIN)/lithomap summary

serve: $(STAMP) ## local Prefect server (UI http://127.0.0.1:4200) + the weekly `retrain` deployment
	$(BIN)/lithomap serve

mlflow-ui: $(STAMP) ## open the MLflow UI on the local store (http://127.0.0.1:5000)
	$(BIN)/mlflow ui --backend-store-uri $${MLFLOW_TRACKING_URI:-sqlite:///mlflow.db} --host 127.0.0.1 --port 5000

optuna-ui: $(STAMP) ## open optuna-dashboard on the study storage (http://127.0.0.1:8080; OPTUNA_STORAGE=… for another)
	$(BIN)/optuna-dashboard --host 127.0.0.1 --port 8080 $${OPTUNA_STORAGE:-$${LITHOMAP_OPTUNA_STORAGE:-sqlite:///optuna.db}}
dashboard: $(STAMP) ## open the stakeholder dashboard on http://127.0.0.1:8501 (reads MLflow, reports/, maps/)
	$(BIN)/streamlit run dashboard/app.py --server.address 127.0.0.1 --server.headless true

test: $(STAMP) ## run the default test suite (under 10 minutes on 2 cores)
	$(BIN)/python -m pytest -n 2 --dist loadfile --durations=25

test-slow: $(STAMP) ## run only the slow tests (CI runs them too)
	$(BIN)/python -m pytest -m slow -n 2 --dist loadfile --durations=10; rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 5 ]

test-all: $(STAMP) ## run every test, slow ones included
	$(BIN)/python -m pytest -n 2 --dist loadfile -m ''

lint: $(STAMP) ## ruff lint and format check; mypy on src/; hadolint on the Dockerfile; compose file against the Compose schema
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy src
	$(BIN)/hadolint Dockerfile
	$(BIN)/check-jsonschema --schemafile docker/compose-spec.json docker-compose.yaml

format: $(STAMP) ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP) ## run the benchmarks and print their tables (bench_training and bench_seams need `make demo` first)
	$(BIN)/python benchmarks/bench_generate.py
	$(BIN)/python benchmarks/bench_reproject.py
	$(BIN)/python benchmarks/bench_ingest.py
	$(BIN)/python benchmarks/bench_training.py
	$(BIN)/python benchmarks/bench_map.py
	$(BIN)/python benchmarks/bench_seams.py
	$(BIN)/python benchmarks/bench_tune.py

clean: ## remove generated data, models, reports and the local MLflow store (DVC cache and remote are kept)
	rm -rf data models maps reports mlflow.db mlartifacts
