# One entry point for the compendium.
#   make reproduce   run every notebook headless on the paper profile from the stored results in
#                    results/paper/, regenerating figures/ (minutes); RECOMPUTE=1 recomputes them (hours)
#   make test        unit tests, the quick profile end to end, and nbval over the stored notebooks
# Both first create or refresh .venv (Python 3.11) and the model cache when missing or stale.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.otclir-installed
PROFILE ?= paper
RECOMPUTE ?=
# test files run in this many processes (a notebook's cells stay in one); 0 runs them in this one
TEST_WORKERS ?= auto
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup test reproduce data lab clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required; set PYTHON=/path/to/python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[compendium]"
	touch $@

# Data-only packages (--no-deps) and the student checkpoint; each step skips what is done.
setup: $(STAMP)
	$(BIN)/otclir setup
	$(BIN)/python -m ipykernel install --user --name otclir --display-name "Python (otclir)" > /dev/null \
		|| echo "note: the Jupyter kernel otclir was not installed (no writable ~/.local); make lab works without it"

test: setup
	$(BIN)/python -m pytest tests notebooks lib/otclir --doctest-modules --nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider --durations=12 -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

reproduce: setup
	$(BIN)/otclir reproduce --profile $(PROFILE) $(if $(RECOMPUTE),--recompute)

data: setup
	$(BIN)/otclir data

# Jupyter refuses to start as root unless told; the flag is added only there.
lab: setup
	$(BIN)/jupyter lab notebooks/ --FileContentsManager.pre_save_hook=otclir.lab.refuse_stored_notebook_save \
		$(if $(filter 0,$(shell id -u)),--allow-root)

clean:
	rm -rf outputs
