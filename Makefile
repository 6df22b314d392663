# Two commands do all set-up on a fresh machine with only Python and pip:
#   make demo   install the core package and run the main job on the shipped example (offline)
#   make test   install everything (core, train and dev extras, chromium) and run every test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
CORE_STAMP := $(VENV)/.core-installed
DEV_STAMP := $(VENV)/.dev-installed
PYTEST_ARGS ?=

.PHONY: demo test install install-dev system-deps bench pipeline-tiny gpu-check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel

$(CORE_STAMP): pyproject.toml reasonlens/lexicon/_kernel.c reasonlens/traces/_jsonkeys.c reasonlens/traces/_thinksplit.c | $(BIN)/python
	$(PIP) install -e .
	touch $@

# llama-cpp-python (the local test server) is built from source. A native build (-march=native)
# dies with "Illegal instruction" on VMs that advertise AMX/AVX-512 without enabling them, so it is
# built for a portable AVX2 baseline, never from pip's wheel cache (which may hold a native build).
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF -DGGML_OPENMP=OFF

$(DEV_STAMP): pyproject.toml reasonlens/lexicon/_kernel.c reasonlens/traces/_jsonkeys.c reasonlens/traces/_thinksplit.c | $(BIN)/python
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=2 $(PIP) install --no-cache-dir \
		"llama-cpp-python[server]==0.3.36"
	$(PIP) install -e '.[train,dev,scale]'
	touch $@ $(CORE_STAMP)

install: $(CORE_STAMP)
install-dev: $(DEV_STAMP)

# Headless chromium for the report browser test (Debian package; needs root).
system-deps:
	@bash scripts/install-system-deps.sh

demo: $(CORE_STAMP)
	$(BIN)/reasonlens demo --out out/demo --report reports/demo.html

test: $(DEV_STAMP) system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(DEV_STAMP)
	$(BIN)/python benchmarks/run_all.py

# The model pair end to end on a random tiny Qwen2 (CPU, a few minutes; resumable: rerun skips
# finished steps). Other recipes: python -m training.pipeline --recipe smollm2 | qwen32b
pipeline-tiny: $(DEV_STAMP)
	$(BIN)/python -m training.pipeline --recipe tiny

# On a CUDA machine: transformers ablation backend, short SFT and GRPO on the GPU (< 5 min)
gpu-check: $(DEV_STAMP)
	PYTHON=$(BIN)/python bash scripts/gpu_check.sh

clean:
	rm -rf $(VENV) out .pytest_cache tests/artifacts
