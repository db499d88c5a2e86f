# Two commands set everything up on a fresh machine: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install bench bench-scale clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## run: install, then run the main job on the bundled examples (results in out/)
run: $(STAMP)
	$(BIN)/extractor run examples --out out

## test: install, check the import layers (pyproject.toml [tool.importlinter]), then run the test suite
## (offline; LLM calls replay cassettes/)
test: $(STAMP) browser-deps
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

.PHONY: browser-deps
## browser-deps: Debian's Chromium and CJK fonts for the browser tests, via apt-get when missing.
## Never downloads a browser (no `playwright install`); when apt cannot run, the browser tests skip.
browser-deps:
	@pkgs=""; \
	[ -x /usr/bin/chromium ] || pkgs="chromium"; \
	fc-list :lang=zh 2>/dev/null | grep -q . || pkgs="$$pkgs fonts-noto-cjk"; \
	if [ -n "$$pkgs" ]; then \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo -n"; \
	  echo "browser tests need: $$pkgs — installing with apt-get"; \
	  if command -v apt-get >/dev/null 2>&1 && $$sudo true 2>/dev/null; then \
	    ( $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$pkgs ) \
	      || echo "apt-get could not install $$pkgs: the browser tests will be skipped"; \
	  else echo "no apt-get or no root: the browser tests will be skipped (install $$pkgs by hand)"; fi; \
	fi

bench: $(STAMP)
	$(BIN)/python bench/bench_deterministic.py

## bench-scale: whole-process docs/s next to a bare-scan floor, --concurrency, merge, resume cost (~2 min)
bench-scale: $(STAMP)
	$(BIN)/python bench/bench_scale.py

clean:
	rm -rf $(VENV) out .pytest_cache

.PHONY: cassettes
## cassettes: record the LLM cassettes against the local backend (starts it, records, stops it by PID).
## Records the requests missing from cassettes/ (record mode new_episodes); rm cassettes/*.yaml to re-record all.
cassettes: $(STAMP)
	$(BIN)/pip install -q -e '.[test]'
	scripts/local_llm.sh start
	EXTRACTOR_RECORD_CASSETTES=1 $(BIN)/python -m pytest -q tests/test_llm_cassettes.py; status=$$?; \
	  scripts/local_llm.sh stop; exit $$status
