# The two commands in README.md, and the few that help contributors.
#   make serve    install, build both languages with every snippet executed, serve them on 127.0.0.1
#                 and rebuild what each saved change needs (a live preview)
#   make test     install and run every test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# PY runs the tools: the project's virtual environment, or (make gpu PY=python3) a Python that
# already has a CUDA build of torch and the packages of requirements.txt.
PY ?= $(BIN)/python
NEEDS_VENV := $(if $(filter $(BIN)/python,$(PY)),install)
# Linux x86-64: torch's CPU build, from PyTorch's CPU index (PyPI's Linux wheel is the multi-GB
# CUDA build), installed first and alone. Where that index cannot be reached, pip still installs a
# CPU wheel that its configuration finds (find-links, a local index) and otherwise fails rather
# than download the CUDA build. A GPU machine sets TORCH_INDEX= (gpu.yml): PyPI's CUDA build.
# (The same index as tools/project.py TORCH_CPU_INDEX: a test keeps them equal.)
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
TORCH_PIN := $(shell grep -m1 '^torch==' requirements.txt)
ifeq ($(TORCH_PIN),)
$(error requirements.txt pins no torch release (a line torch==X.Y.Z))
endif
CPU_TORCH := $(if $(and $(TORCH_INDEX),$(filter Linux-x86_64,$(shell uname -s)-$(shell uname -m))),$(BIN)/python \
	-m pip install --quiet --disable-pip-version-check --no-deps --retries 1 --index-url $(TORCH_INDEX) "$(TORCH_PIN)")

.PHONY: install build serve test check audit outputs rounding comments bench gpu new-page translated clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(CPU_TORCH)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# The static site in site/: English at the root, Chinese in site/zh/ (tools/build.py).
build: $(NEEDS_VENV)
	$(PY) -m tools.build

# A live preview (tools/serve.py) on tools/project.py's LOCAL_URL, http://127.0.0.1:8000/pytorch-models/
# (PORT=8001: another port). An output that differs from the stored one is a warning here (make
# build stops on it); a saved change rebuilds what it needs and reloads the open page.
serve: $(NEEDS_VENV)
	$(PY) -m tools.serve $(if $(PORT),--port $(PORT))

# Every test; the tests build the site once, into site/ (CI publishes that build).
test: install browser-deps
	@$(PY) -m tools.results python
	$(PY) -m pytest

# The writer's loop, in seconds: snippets and their outputs (a snippet whose code did not change
# since the last check is not run again: tools/snippets.printed), page rules, includes, the two
# languages (pages, code, comments, terms), lint. No site build, no browser, no kernel, and not the
# tests/test_facts_*.py that check the pages' claims against PyTorch: `make test` runs those.
check: $(NEEDS_VENV)
	REUSE_SNIPPET_RUNS=1 $(PY) -m pytest tests --ignore-glob="tests/test_facts_*.py" -m "not site and not browser and not scratch and not kernel and not rounding" -q

# Lighthouse on the home page and a chapter in each language, served under the site's path
# (tools/audit.py): fails below 100 in accessibility, best practices or SEO. The site is built
# first where it is not up to date. Lighthouse comes from npm, as package-lock.json pins it,
# without its install scripts: no browser is downloaded, it drives the Chromium of browser-deps.
audit: $(NEEDS_VENV) browser-deps node_modules/.installed
	$(PY) -m tools.build
	$(PY) -m tools.audit

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "make audit needs Node.js (18.16 or later) and npm" >&2; exit 1; }
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

# What tests/test_browser.py needs: Debian's chromium and a CJK font (installed where missing).
browser-deps:
	bash tools/browser_deps.sh

# Run the snippets and store what they print in outputs/<device>/ (all pages, or PAGE=name),
# and redraw the figures in docs/*/figures/. Review the diff, then commit.
outputs: $(NEEDS_VENV)
	$(PY) -m tools.results outputs $(PAGE)
	$(PY) -m tools.figures $(PAGE)

# The printed numbers that move with float rounding (all pages, or PAGE=name): each would print
# another last digit on another CPU. `make test` runs this check too.
rounding: $(NEEDS_VENV)
	$(PY) -m tools.rounding $(PAGE)

# The comments of snippets/*.py that have no translation yet, as empty entries of
# snippets/<page>.zh.yml to fill in (and entries of comments that are gone, dropped).
comments: $(NEEDS_VENV)
	$(PY) -m tools.comments

# What needs a GPU, on a machine with one: every snippet on CUDA, checked against the outputs
# the pages show for CUDA (outputs/cuda/, else outputs/cpu/), the facts tests and the pages'
# code, and a record in build/gpu-results/ (cuda.json and the outputs that differ from the
# CPU's) for a maintainer to review and commit as results/cuda.json and outputs/cuda/.
gpu: $(NEEDS_VENV)
	$(PY) -m tools.results record build/gpu-results --outputs build/gpu-results/outputs --device cuda; recorded=$$?; \
	$(PY) -m pytest tests/test_snippets.py tests/test_facts_*.py docs -p no:cacheprovider -q; \
	tested=$$?; exit $$((recorded || tested))

# Size and speed figures of this checkout (installs what it measures with).
bench: install browser-deps
	$(PY) -m tools.bench

# A new chapter page in both languages, with its snippet file, outputs and nav entries:
#   make new-page NAME=optimizers TITLE="Optimizers" TITLE_ZH="优化器"
new-page: $(NEEDS_VENV)
	$(PY) -m tools.new_page "$(NAME)" "$(TITLE)" "$(TITLE_ZH)"
	$(PY) -m tools.results outputs "$(NAME)"

# After updating a Chinese page to match its English page: make translated PAGE=layers
translated: $(NEEDS_VENV)
	$(PY) -m tools.translations $(PAGE)

clean:
	rm -rf site build .cache .pytest_cache
