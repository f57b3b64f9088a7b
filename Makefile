# Two set-up commands: `make run` and `make test`. Everything else is built on them.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CONFIG ?= config.yaml
PYTEST_ARGS ?=

.PHONY: run test bench venv clean check-config sync status

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# the repo's default config watches ./var/uploads: create it here, explicitly (jaga itself refuses a
# missing watch folder, so a typo in a real config is an error, not an empty folder kept "safe")
run: $(STAMP)
	@if [ "$(CONFIG)" = config.yaml ]; then mkdir -p var/uploads; fi
	$(BIN)/jaga -c $(CONFIG) run

test: $(STAMP)
	$(BIN)/python -m pytest -q -ra $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

check-config: $(STAMP)
	$(BIN)/jaga -c $(CONFIG) check-config

sync: $(STAMP)
	$(BIN)/jaga -c $(CONFIG) sync

status: $(STAMP)
	$(BIN)/jaga -c $(CONFIG) status

clean:
	rm -rf $(VENV) build *.egg-info
