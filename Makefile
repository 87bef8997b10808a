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

.PHONY: report test lab explorer lessons class-view demo notebooks lock clean bench

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

# The teaching set as apps in the browser (Voilà), for a class that needs no Python: learners open the
# address `make lessons` prints and pick a lesson; lesson 2's Submit button saves their self-assessment
# (under a random code, no name) in CLASS, the folder the class shares; the instructor runs `make class-view`
# with the same CLASS in a second terminal and reloads its page to see the class as one group.
# CLASS defaults to $WORKBENCH_CLASS, else a folder for today's session; IP=0.0.0.0 serves the room's network.
CLASS ?= $(or $(WORKBENCH_CLASS),$(HOME)/workbench-class/$(shell date +%Y-%m-%d))
IP ?= 127.0.0.1
LESSONS_PORT ?= 8866
CLASS_VIEW_PORT ?= 8867

lessons: $(STAMP)
	$(BIN)/workbench build --study $(STUDY)
	mkdir -p -m 700 "$(CLASS)"
	@echo "Class folder (submissions go here): $(CLASS)"
	WORKBENCH_CLASS="$(CLASS)" $(BIN)/voila notebooks/teaching/learner/ --no-browser --Voila.ip=$(IP) \
		--port=$(LESSONS_PORT) --KernelManager.transport=ipc

class-view: $(STAMP)
	$(BIN)/workbench build --study $(STUDY)
	mkdir -p -m 700 "$(CLASS)"
	@echo "Class folder (read from here): $(CLASS)"
	WORKBENCH_CLASS="$(CLASS)" $(BIN)/voila notebooks/class-view.ipynb --no-browser --Voila.ip=$(IP) \
		--port=$(CLASS_VIEW_PORT) --KernelManager.transport=ipc

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
