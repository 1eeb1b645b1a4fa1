# Two commands on a fresh machine:  make demo   and   make test
# Both create .venv, install torch first (the CPU wheel 2.13.0, so pip pulls no CUDA build),
# then zsar with its dependencies.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.zsar-installed
PYTEST_ARGS ?=

.PHONY: demo test install clean bench

demo: $(STAMP)
	$(BIN)/zsar demo

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

bench: $(STAMP)
	$(BIN)/python bench/extract.py
	$(BIN)/python bench/train.py
	$(BIN)/python bench/metrics.py

clean:
	rm -rf $(VENV) zsar-demo .pytest_cache
