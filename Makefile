# Two entry points: `make run` (the built-in check workflow on a small project, green and
# then red) and `make test` (everything CI runs). Both build the virtual environment first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint unit vscode claude-code editor-e2e-clients benchmarks

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Byte-compile tether itself: where PYTHONDONTWRITEBYTECODE is set, nothing else writes
# .pyc files and every CLI start would recompile the package (about 75 ms).
install: $(STAMP)
	$(BIN)/python -m compileall -q server > /dev/null

# The main job on a realistic case in seconds: `tether run check` on a copy of a small,
# fully configured project (ruff, mypy strict, pytest) whose interpreter is this
# repository's environment; then the same project with a bug, checked from a subfolder.
DEMO := build/demo
run: install
	@rm -rf $(DEMO) && mkdir -p build && cp -r tests/fixtures/checked_project $(DEMO)
	@mkdir -p $(DEMO)/.tether
	@echo 'interpreter = "$(CURDIR)/$(BIN)/python"' > $(DEMO)/.tether/config.toml
	@echo '$$ cd $(DEMO) && tether run check'
	@cd $(DEMO) && $(CURDIR)/$(BIN)/tether run check
	@$(BIN)/python -c "import pathlib; p = pathlib.Path('$(DEMO)/money/amount.py'); \
		p.write_text(p.read_text().replace('share + (1 if i < left else 0)', 'share'))"
	@echo; echo '# a change that loses cents when splitting; checked from a subfolder:'
	@echo '$$ cd $(DEMO)/money && tether run check'
	@cd $(DEMO)/money && $(CURDIR)/$(BIN)/tether run check; \
		echo "(exit code $$?: the check is red, and says which tests and why)"

lint: install
	$(BIN)/ruff check server tests
	$(BIN)/ruff format --check server tests
	$(BIN)/mypy

unit: install claude-code
	$(BIN)/pytest

# The pinned Claude Code CLI the chat end-to-end tests (tests/chat) drive, in .cache/.
claude-code:
	tests/chat/install-claude-code.sh

# --ignore-scripts: no dependency of the extension needs its install script, and one
# (vsce-sign) would try to download a binary, which a machine without internet refuses.
vscode:
	cd editor-client/vscode && npm ci --ignore-scripts --no-audit --no-fund && npm run ci

# The real clients the editor end-to-end tests drive: Debian's chromium (+ fonts and the
# headers code-server's native modules need), Node 24 and code-server + playwright-core
# from the npm registry. Installed once into a cache outside the repository (see the
# script), so later runs take a second.
editor-e2e-clients:
	bash tests/editor/vscode_e2e/install.sh > /dev/null

# vscode before unit: the VS Code end-to-end test packages the extension with its node_modules.
test: lint vscode editor-e2e-clients unit

benchmarks: install
	@for b in tests/benchmarks/[!_]*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done
