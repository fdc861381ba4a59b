# Quick start: `make demo` and `make test`. Both bootstrap .venv from pyproject.toml once;
# a second call reuses it (the stamp file is rebuilt only when pyproject.toml changes).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RUNS   := runs

.PHONY: demo test bench docs clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	@mkdir -p $(RUNS)
	$(BIN)/cardsim run scenarios/weekday.toml --out $(RUNS)/weekday.db --force
	$(BIN)/cardsim verify $(RUNS)/weekday.db
	$(BIN)/cardsim replay $(RUNS)/weekday.db
	$(BIN)/cardsim report $(RUNS)/weekday.db -o $(RUNS)/weekday.html

# the tests run on every core (pytest-xdist); `$(BIN)/python -m pytest` runs them on one
test: $(STAMP)
	$(BIN)/python -m pytest -n auto

bench: $(STAMP)
	$(BIN)/python bench/run_throughput.py
	$(BIN)/python bench/model_cost.py
	$(BIN)/python bench/calendar_cost.py
	$(BIN)/python bench/sign_throughput.py
	$(BIN)/python bench/verify_throughput.py
	$(BIN)/python bench/replay_throughput.py
	$(BIN)/python bench/sweep_speedup.py
	$(BIN)/python bench/net_throughput.py
	$(BIN)/python bench/merkle_proofs.py
	$(BIN)/python bench/tree_cost.py

docs: $(STAMP)
	$(BIN)/python -m cardsim.cli.docgen

clean:
	rm -rf $(RUNS) .pytest_cache
