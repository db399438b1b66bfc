# closerlook — two commands do all set-up on a fresh machine:
#   make figures   create .venv, install pinned dependencies, run the embedded study
#   make test      create .venv, install, run the whole test suite
#   make replicates  the embedded study with more seeds per run (SEEDS=5; the default is 3)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: figures replicates test test-fast lint report clean

figures: $(STAMP)
	$(BIN)/snakemake --cores all figures

SEEDS ?= 5
replicates: $(STAMP)
	$(BIN)/snakemake --cores all figures --config seeds=$(SEEDS)

test: $(STAMP)
	$(BIN)/pytest

test-fast: $(STAMP)
	$(BIN)/pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

clean:
	rm -rf results .snakemake
