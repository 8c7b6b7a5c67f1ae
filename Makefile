# The two commands of the README's quick start.
#   make demo   install, then build the bundled todo app against an embedded sandbox
#   make test   install (with the test extras and a browser), then run the whole test suite

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test install install-test browser tools

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'

# The browser tests drive a real Chromium; Debian's package, installed once.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

# Functions run on the machine's Node.js; the shell-agent test speaks JSON with jq.
tools:
	@command -v node >/dev/null 2>&1 && command -v jq >/dev/null 2>&1 || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs jq >/dev/null; }

demo: install
	$(BIN)/appwright build --blueprint todo --yes

test: install-test browser tools
	$(BIN)/python -m pytest -q
