# Two commands set everything up on a fresh machine: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## run: install, then run the main job on the bundled examples (results in out/)
run: $(STAMP)
	$(BIN)/extractor run examples --out out

## test: install, then run the test suite (offline; LLM calls replay cassettes/)
test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/bench_deterministic.py

clean:
	rm -rf $(VENV) out .pytest_cache
