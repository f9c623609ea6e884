# Every target works on a fresh machine with nothing but Python 3.10+: it makes .venv itself.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench lint typecheck check clean install prism docs

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	@PATH="$(CURDIR)/$(BIN):$$PATH" sh sample_data/demo.sh

test: $(STAMP)
	$(BIN)/python -m pytest -q

# Every pair runs even when one misses its goal; the exit status says whether all were met.
bench: $(STAMP)
	$(BIN)/python bench/bench.py; pairs=$$?; \
	$(BIN)/python bench/bench_long_line.py; long=$$?; \
	exit $$((pairs || long))

lint: $(STAMP)
	$(BIN)/ruff check ftprep tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# Regenerate the README's generated sections (rules table, command list) from the code;
# tests/test_docs.py fails while they are out of date.
docs: $(STAMP)
	$(BIN)/cog -r README.md

# What CI runs: every gate, cheapest first, stopping at the first that fails.
check: lint typecheck test

clean:
	rm -rf $(VENV) build dist *.egg-info demo_out bench/out .pytest_cache

# Stoplight Prism (npm) for tests/test_contract_prism.py, kept in the ignored .tools/ folder.
PRISM := .tools/prism/node_modules/.bin/prism
prism: $(PRISM)
$(PRISM):
	npm install --no-audit --no-fund --loglevel=error --prefix .tools/prism @stoplight/prism-cli@5
