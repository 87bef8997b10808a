# Two commands do everything on a fresh machine with Python 3.11 and pip:
#   make report   regenerate the demo study's reports into reports/demo/
#   make test     run the package tests and the notebook tests
# Both create the local virtual environment .venv/ on first use and reuse it after.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STUDY ?= demo
JOBS ?=

.PHONY: report test lab explorer demo notebooks lock clean bench

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (workbench)" >/dev/null
	touch $(STAMP)

report: $(STAMP)
	$(BIN)/workbench regenerate --study $(STUDY) $(if $(JOBS),--jobs $(JOBS))

# The package tests (ruff and the house habits among them), the docstring examples of every module,
# and nbval on the notebooks' stored outputs.
test: $(STAMP)
	$(BIN)/python -m pytest tests src/workbench notebooks --doctest-modules --ignore=src/workbench/teaching/lessons \
		--nbval --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider

lab: $(STAMP)
	$(BIN)/workbench build --study $(STUDY)
	$(BIN)/jupyter lab notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

# The explorer as an app in the browser (Voilà): open the address it prints.
explorer: $(STAMP)
	$(BIN)/workbench build --study $(STUDY)
	$(BIN)/voila notebooks/explorer.ipynb --no-browser --Voila.ip=127.0.0.1 --KernelManager.transport=ipc

# Rewrite data/raw/demo from the generator (the only writer of data/raw/).
demo: $(STAMP)
	$(BIN)/workbench demo

# Re-execute every notebook under notebooks/ in place against the demo study, so nbval compares fresh outputs.
notebooks: $(STAMP)
	$(BIN)/workbench build --study demo
	$(BIN)/workbench refresh-notebooks

lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv && .lock-venv/bin/pip install --quiet -e ".[test]"
	(echo "# Pinned versions the Makefile installs with (pip -c). Regenerate: make lock"; .lock-venv/bin/pip freeze --exclude-editable) > constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) reports data/processed/*/

# Timings of regeneration and of a national-scale study (several minutes; not part of the tests).
bench: $(STAMP)
	$(BIN)/python bench/run.py $(if $(QUICK),--quick) $(if $(FULL),--full)
