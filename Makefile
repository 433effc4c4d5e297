# Two commands: `make demo` (set up, then run the main job) and `make test` (set up, then test).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# One OpenBLAS thread unless you say otherwise: these models' matrices are small, and on a busy
# 2-core machine a second BLAS thread made the demo 100x slower (0.2 s -> 28 s) waiting for a core.
export OPENBLAS_NUM_THREADS ?= 1

.PHONY: setup demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

# The main job: train an MLP on the bundled digits (well under a minute on 2 cores). Graphviz's
# `dot` draws the graph of one training step as SVG; without it the graph is written as .dot.
demo: setup
	@if ! command -v dot >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Graphviz (dot) with apt-get ..."; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null) \
	      || echo "Could not install Graphviz: graphs will be written as .dot files."; \
	  else \
	    echo "Graphviz's dot is not installed: graphs will be written as .dot files."; \
	    echo "Install it with 'sudo apt-get install graphviz', 'brew install graphviz' or 'conda install graphviz'."; \
	  fi; \
	fi
	$(PY) -m autodiff train

test: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check autodiff tests benchmarks examples

bench: setup
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis
