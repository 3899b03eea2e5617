# The two commands in README.md, and the few that help contributors.
#   make serve    install, build both languages with every snippet executed, serve on 127.0.0.1
#   make test     install and run every test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export NO_MKDOCS_2_WARNING := 1

.PHONY: install build serve test outputs bench new-page translated clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# The static site in site/: English at the root, Chinese in site/zh/. Notebooks are executed
# by mkdocs-jupyter (cached by content in .cache/); warnings fail the build.
build: install
	$(BIN)/mkdocs build --strict --quiet -f mkdocs.yml
	$(BIN)/mkdocs build --strict --quiet -f mkdocs.zh.yml

serve: install
	$(BIN)/python -m tools.snippets check
	$(MAKE) build
	@echo "Serving http://127.0.0.1:$(PORT)/ (English) and http://127.0.0.1:$(PORT)/zh/ (中文); Ctrl-C stops."
	$(BIN)/python -m http.server $(PORT) --bind 127.0.0.1 --directory site

test: install browser-deps
	$(BIN)/python -m pytest

# What tests/test_browser.py needs: Debian's chromium, a CJK font, axe-core (installed where missing).
browser-deps:
	bash tools/browser_deps.sh

# Run every snippet and store what it prints in outputs/cpu/, and redraw the figures in
# docs/*/figures/ (review the diff, then commit).
outputs: install
	$(BIN)/python -m tools.snippets update
	$(BIN)/python -m tools.figures
	$(BIN)/python -m tools.results results

# A new chapter page in both languages, with its snippet file, outputs and nav entries:
#   make new-page NAME=optimizers TITLE="Optimizers" TITLE_ZH="优化器"
new-page: install
	$(BIN)/python -m tools.new_page "$(NAME)" "$(TITLE)" "$(TITLE_ZH)"
	$(MAKE) outputs

# After updating a Chinese page to match its English page: make translated PAGE=layers
translated: install
	$(BIN)/python -m tools.translations $(PAGE)

bench: install
	$(BIN)/python -m tools.bench

clean:
	rm -rf site .cache .pytest_cache
