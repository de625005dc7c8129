# The README's two commands: `make run` and `make test`. Both set up .venv on a fresh machine.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
HOME_DIR ?= index
QUESTION ?= how do regions help cluster SMEs go international?
HOST ?= 127.0.0.1
PORT ?= 8000
UI_PORT ?= 8501

.PHONY: run test install build clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## build or incrementally update the knowledge base from ingest/
build: install
	$(VENV)/bin/policykb --home $(HOME_DIR) ingest ingest/ --prune

## build, answer a sample question, then serve the HTTP API and the UI beside it until Ctrl-C
run: build
	$(VENV)/bin/policykb --home $(HOME_DIR) stats
	$(VENV)/bin/policykb --home $(HOME_DIR) search "$(QUESTION)" --k 3
	VENV=$(VENV) HOME_DIR=$(HOME_DIR) HOST=$(HOST) PORT=$(PORT) UI_PORT=$(UI_PORT) sh scripts/run.sh

## install what the tests need and run the whole suite
test: install
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || (apt-get update && apt-get install -y chromium chromium-driver)
	command -v etcd >/dev/null && test -x /usr/bin/patroni || (apt-get update && apt-get install -y etcd-server patroni)
	$(PY) -m pytest -q

clean:
	rm -rf $(HOME_DIR)
