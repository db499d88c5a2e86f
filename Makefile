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

.PHONY: cassettes
## cassettes: record the LLM cassettes against the local backend (starts it, records, stops it by PID)
cassettes: $(STAMP)
	$(BIN)/pip install -q -e '.[test,local]'
	scripts/local_llm.sh start
	EXTRACTOR_RECORD_CASSETTES=1 $(BIN)/python -m pytest -q tests/test_llm_cassettes.py; status=$$?; \
	  scripts/local_llm.sh stop; exit $$status
