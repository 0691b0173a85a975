# One command to set up and run the demo, one to set up and run the tests.
# Both create .venv and install the project with every extra on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NEXARA := $(VENV)/bin/nexara
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo_data/organized_dataset
# What the demo pipeline writes next to the dataset: the config `decide` writes, the
# training run (model.keras, epochs.jsonl, config.toml) and the per-step wall times.
DEMO_WORK = $(patsubst %/,%,$(dir $(patsubst %/,%,$(DEMO_DIR))))
DEMO_CONFIG ?= $(DEMO_WORK)/demo_train.toml
DEMO_RUN ?= $(DEMO_WORK)/demo_run
DEMO_TIMES = $(DEMO_WORK)/demo_times.txt
# True when nothing was ever quarantined in the demo (restore refuses a ROOT without a journal).
NO_JOURNAL = [ ! -f $(DEMO_DIR)/corrupted_videos/journal.jsonl ]

.PHONY: setup sysdeps demo demo-cli demo-pipeline demo-train test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[train,redownload,cluster,dev]'
	touch $(STAMP)

setup: $(STAMP)

# System packages the tests need: a real OpenSSH server for the SSH tests, tmux for the terminal check,
# mke2fs for the full-disk test's small ext2 file system.
sysdeps:
	@command -v sshd >/dev/null 2>&1 || test -x /usr/sbin/sshd || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server openssh-client >/dev/null)
	@command -v mke2fs >/dev/null 2>&1 || test -x /usr/sbin/mke2fs || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq e2fsprogs >/dev/null)

$(DEMO_DIR)/ground_truth.json: | $(STAMP)
	$(NEXARA) demo make $(DEMO_DIR)

# The main job on the built-in demo dataset: the TUI on a terminal, the whole CLI
# pipeline otherwise (CI, a pipe, `make demo > log`). Either way the demo starts from
# the dataset as generated: clips an earlier run quarantined are put back first
# (`restore --all`, the journaled undo), so the scan shows the damage again.
demo: setup $(DEMO_DIR)/ground_truth.json
	@if [ -t 1 ]; then { $(NO_JOURNAL) || $(NEXARA) restore $(DEMO_DIR) --all >/dev/null; } && $(NEXARA) tui $(DEMO_DIR) --scan; \
	else $(MAKE) --no-print-directory demo-pipeline; fi

# $(call timed,STEP,COMMAND): show COMMAND, run it, stop the recipe if it fails, and
# append "STEP  N.Ns" to DEMO_TIMES. Timestamps come from Python because `date +%N`
# is GNU-only and the demo is meant to run on a laptop (macOS included).
NOW = $(PY) -c 'import time; print(f"{time.time():.3f}")'
timed = printf '\n$$ %s\n' '$(strip $(2))'; s=$$($(NOW)); $(2) || exit $$?; \
	e=$$($(NOW)); awk -v a=$$s -v b=$$e 'BEGIN { printf "%-11s %6.1fs\n", "$(1)", b - a }' >> $(DEMO_TIMES)

# scan -> decide -> repair -> quarantine -> train -> evaluate on the demo dataset, each step timed.
# Rerunnable: the clips an earlier run repaired or quarantined are restored first (the
# journaled undo) and the run directory is replaced, so every run replays the same pipeline
# on the same data; the scan store and the features cache make a rerun faster.
# `repair --min-seconds 1`: the demo's clips are 2 s long (the default, 2 s, is for real
# clips); what repair cannot bring back is quarantined next.
# `--preset demo` shrinks backbone, frames and head so training takes seconds on a CPU
# (the class weights and multipliers from `decide` are kept). `evaluate` exits 1 when
# the deployment gate FAILs, which 14 test clips rarely pass: only exit 2+ is an error.
demo-pipeline: setup $(DEMO_DIR)/ground_truth.json
	@rm -f $(DEMO_TIMES)
	@$(call timed,restore,$(NO_JOURNAL) || $(NEXARA) restore $(DEMO_DIR) --all)
	@$(call timed,scan,$(NEXARA) scan $(DEMO_DIR))
	@$(call timed,decide,$(NEXARA) decide $(DEMO_DIR) --write-config $(DEMO_CONFIG) --force)
	@$(call timed,repair,$(NEXARA) repair $(DEMO_DIR) --yes --min-seconds 1)
	@$(call timed,quarantine,$(NEXARA) quarantine $(DEMO_DIR) --yes)
	@rm -rf $(DEMO_RUN)
	@$(call timed,train,$(NEXARA) train $(DEMO_DIR) --config $(DEMO_CONFIG) --preset demo --out $(DEMO_RUN) --wait)
	@$(call timed,evaluate,$(NEXARA) evaluate $(DEMO_DIR) --model $(DEMO_RUN)/model.keras --tta || [ $$? -eq 1 ])
	@awk '{ print; t += $$2 } END { printf "%-11s %6.1fs\n", "total", t }' $(DEMO_TIMES) > $(DEMO_TIMES).tmp && \
	  mv $(DEMO_TIMES).tmp $(DEMO_TIMES) && printf '\nwall time per step (%s):\n' $(DEMO_TIMES) && cat $(DEMO_TIMES)
	@printf 'next: nexara monitor %s   (the epoch table of this run)\n' $(DEMO_RUN)

# A demo training job left running in the background for a minute or two (150 epochs,
# no early stop), to watch the monitor fill in live: `nexara monitor JOB`, or the TUI's
# Monitor screen (key 4), which follows the newest running job. Uses the config of the
# last `make demo-pipeline` (run first if there is none); each job gets its own run dir.
demo-train: setup $(DEMO_DIR)/ground_truth.json
	@test -f $(DEMO_CONFIG) || $(MAKE) --no-print-directory demo-pipeline
	$(NEXARA) train $(DEMO_DIR) --config $(DEMO_CONFIG) --preset demo --set epochs=150 \
	  --set early_stopping_patience=150 --out $(DEMO_WORK)/demo_runs/$$(date +%Y%m%d-%H%M%S)
	@echo "or watch it in the TUI: $(NEXARA) tui $(DEMO_DIR), then press 4"

demo-cli: setup $(DEMO_DIR)/ground_truth.json
	$(NEXARA) scan $(DEMO_DIR)

# Static checks first (seconds), then the suite: ruff, mypy (strict on core/host, core/events.py
# and the TUI's engine seam; see [tool.mypy]), the import contracts ([tool.importlinter]).
test: setup sysdeps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: setup
	$(PY) benchmarks/scan_throughput.py
	$(PY) benchmarks/cluster_overhead.py
	$(PY) benchmarks/repair.py

clean:
	rm -rf $(VENV) demo_data .pytest_cache
