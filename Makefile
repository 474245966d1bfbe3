# Therapy Timer: the two quickstart commands are `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
SYS_STAMP := $(VENV)/.system-deps

.PHONY: run test check lint sysdeps bench package fresh-check clean mutants

$(PY):
	$(PYTHON) -m venv $(VENV) || { echo "Could not create a virtual environment: install python3-venv (apt-get install python3-venv)"; exit 1; }
	$(PIP) install --quiet --upgrade pip

$(RUN_STAMP): $(PY) pyproject.toml
	$(PIP) install --quiet -e .
	touch $@

$(DEV_STAMP): $(PY) pyproject.toml
	$(PIP) install --quiet -e '.[dev]'
	touch $@ $(RUN_STAMP)

$(SYS_STAMP): scripts/ensure-system-deps | $(PY)
	scripts/ensure-system-deps
	touch $@

sysdeps: $(SYS_STAMP)

## make run: set up on first use, then start the app (ARGS="..." passes options).
run: $(RUN_STAMP) $(SYS_STAMP)
	scripts/run-app $(PY) $(ARGS)

## make test: set up with dev tools and system packages, then tests, lint and import contracts.
test: $(DEV_STAMP) $(SYS_STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q
	$(VENV)/bin/ruff check therapy_timer tests benchmarks
	$(VENV)/bin/lint-imports

## make mutants: mutation testing of the rule engine and the store's guards (docs/testing.md).
## Not part of make test. MUTANTS="therapy_timer.core.units*" runs only some; results stay in
## mutants/ (`$(VENV)/bin/mutmut results`, `mutmut show NAME`); a re-run redoes only changes.
MUTANTS ?= "therapy_timer.core.*" "therapy_timer.storage.audit.*" \
	"therapy_timer.storage.charges.*finalize*" "therapy_timer.storage.charges.x__locked_choices*" \
	"therapy_timer.storage.migrations.x_guard_triggers*" \
	"therapy_timer.storage.migrations.x_trigger_problems*" \
	"therapy_timer.storage.migrations.x__normal*" \
	"therapy_timer.storage.migrations.x_restore_guard_triggers*"
mutants: $(DEV_STAMP)
	THERAPY_TIMER_HYPOTHESIS=mutation QT_QPA_PLATFORM=offscreen \
		$(abspath $(VENV))/bin/mutmut run --max-children 2 $(MUTANTS)
	$(abspath $(VENV))/bin/mutmut results

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check therapy_timer tests benchmarks
	$(VENV)/bin/lint-imports

bench: $(DEV_STAMP)
	$(PY) benchmarks/engine.py

## make package: a one-folder app in dist/therapy-timer (PyInstaller), then its --check.
package: $(DEV_STAMP) $(SYS_STAMP)
	$(VENV)/bin/pyinstaller --noconfirm --clean --log-level WARN --distpath dist \
		--workpath build/pyinstaller packaging/therapy-timer.spec
	QT_QPA_PLATFORM=offscreen dist/therapy-timer/therapy-timer --check \
		--db build/package-check.sqlite3
	@du -sh dist/therapy-timer | awk '{print "bundle size: " $$1}'

## make fresh-check: clone into a temp dir and run the README's two commands there.
fresh-check:
	scripts/fresh-clone-check

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache .hypothesis
