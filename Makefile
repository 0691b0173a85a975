# One command to set up and run the demo, one to set up and run the tests.
# Both create .venv and install the project with every extra on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NEXARA := $(VENV)/bin/nexara
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo_data/organized_dataset

.PHONY: setup sysdeps demo demo-cli demo-pipeline test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[train,dev]'
	touch $(STAMP)

setup: $(STAMP)

# System packages the tests need: a real OpenSSH server for the SSH tests, tmux for the terminal check.
sysdeps:
	@command -v sshd >/dev/null 2>&1 || test -x /usr/sbin/sshd || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server openssh-client >/dev/null)

$(DEMO_DIR)/ground_truth.json: | $(STAMP)
	$(NEXARA) demo make $(DEMO_DIR)

# The main job on the built-in demo dataset: the TUI on a terminal, the CLI otherwise.
demo: setup $(DEMO_DIR)/ground_truth.json
	@if [ -t 1 ]; then $(NEXARA) tui $(DEMO_DIR) --scan; else $(NEXARA) scan $(DEMO_DIR); fi

demo-cli: setup $(DEMO_DIR)/ground_truth.json
	$(NEXARA) scan $(DEMO_DIR)

test: setup sysdeps
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check .

bench: setup
	$(PY) benchmarks/scan_throughput.py

clean:
	rm -rf $(VENV) demo_data .pytest_cache
