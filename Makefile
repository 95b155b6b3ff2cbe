# Two commands do everything on a fresh machine:
#   make demo   -- set up, then train and compare every method (the lecture demo)
#   make test   -- set up, then run every test (package, graders, quizzes, notebooks)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
# extra options of the notebook run, e.g. make test NBVAL_ARGS=--junitxml=nb.xml (time of every cell)
NBVAL_ARGS ?=

.PHONY: install demo test test-fast grade quiz bench notebooks book clean

# pyproject.toml lists every dependency; constraints.txt pins torch to the tested CPU wheel (an
# unpinned torch would pull a CUDA build of several GB)
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[lessons,test]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(PY) -m minialign pipeline

# the package's tests, then the notebooks under nbval (which print each lesson's time at the end);
# the graders run once, inside tests/test_graders_catch_bugs.py, against the reference solutions,
# the untouched stubs and each buggy variant
test: install
	MINIALIGN_EXERCISES=solutions MINIALIGN_QUIET=1 $(PY) -m pytest -q tests
	MINIALIGN_QUIET=1 $(PY) -m pytest -q --nbval-lax --nbval-current-env -p no:cacheprovider $(NBVAL_ARGS) notebooks

# the package's tests without those that train a model for more than about a second (@pytest.mark.slow)
test-fast: install
	MINIALIGN_EXERCISES=solutions MINIALIGN_QUIET=1 $(PY) -m pytest -q -m "not slow" tests

grade: install
	$(PY) -m minialign grade

# the course as static HTML: every lesson executed on the stage cache (both languages), with an
# index page linking lessons, quizzes, exercises and results; open book/index.html
# (options: make book BOOK_ARGS="--jobs 2 --lessons 02,05")
BOOK_ARGS ?=
book: install
	$(PY) -m minialign book --out book $(BOOK_ARGS)

bench: install
	$(PY) -m minialign bench

clean:
	rm -rf $(VENV) runs book .pytest_cache
