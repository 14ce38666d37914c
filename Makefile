# Two commands matter: `make run` (whole system locally) and `make test`.
# Everything is installed into .venv from the requirements files; nothing by hand.
# The interpreter: the first of python3.11, 3.12, 3.13, python3 that is at least 3.11 (override: PYTHON=...).
# Each interpreter may get its own virtualenv (VENV=.venv-deb), so switching never breaks the default one.
PYTHON ?= $(firstword $(foreach p,python3.11 python3.12 python3.13 python3,\
	$(shell command -v $(p) >/dev/null 2>&1 && $(p) -c 'import sys; print(sys.version_info >= (3, 11))' 2>/dev/null \
	| grep -qx True && echo $(p))))
# The default interpreter uses .venv; one named on the command line (or in the environment) gets a venv of
# its own version, e.g. `make test PYTHON=/usr/bin/python3.11` -> .venv-3.11.2.
VENV ?= $(if $(filter command line environment,$(origin PYTHON)),.venv-$(shell $(PYTHON) -c \
	'import platform; print(platform.python_version())' 2>/dev/null),.venv)
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint lint-infra package demo clean install browser office bench

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "需要 Python 3.11 或更高版本 (no python3.11/3.12/3.13/python3 >= 3.11 on PATH)"; exit 1; }
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "需要 Python 3.11 ($(PYTHON) not found)"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "$(PYTHON) is older than 3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Says plainly which interpreter the tests run under.
.PHONY: which-python
which-python: $(BIN)/python
	@echo "Python: $$($(BIN)/python -c 'import sys; print(sys.version.split()[0], sys.executable)') (venv $(VENV); interpreter $(PYTHON))"

# Reinstall whenever a requirements file changes.
$(STAMP): $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/python -m pip install --disable-pip-version-check -q --upgrade pip
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m infra.local

demo: $(STAMP)
	$(BIN)/python -m infra.local.demo

# Style, then the layers (import-linter contracts in pyproject.toml, imports inside functions counted), then types.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# The deployable template and zip (build/sam.json, build/deployment.zip); offline, see docs/deploy.md.
INFRA_SOURCES := app.py requirements.txt infra/template.json infra/deploy-overlay.json infra/package.py \
	$(wildcard .chalice/*.json) $(shell find chalicelib vendor/ schemas -type f -not -name '*.pyc' 2>/dev/null)

build/sam.json: $(STAMP) $(INFRA_SOURCES)
	$(BIN)/python -m infra.package

package: $(STAMP)
	$(BIN)/python -m infra.package

lint-infra: build/sam.json
	$(BIN)/cfn-lint --regions cn-north-1 cn-northwest-1 -- build/sam.json

# The county-upload browser test drives Debian's chromium through Playwright; Playwright's own browser
# downloads are never used (`playwright install` cannot reach its CDN here), so the distro package it is.
# With CJK fonts (fonts-noto-cjk), or screenshots show boxes for Chinese. Where there is no root or no apt (a
# developer's laptop), say in one line how to get a browser and go on: the browser tests then skip. CI stays
# strict: with CI set, a missing browser fails.
CHROMIUM := /usr/bin/chromium
browser:
	@if [ -x $(CHROMIUM) ] && { ! command -v fc-list >/dev/null 2>&1 || fc-list :lang=zh | grep -q .; }; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update && apt-get install -y --no-install-recommends chromium fonts-noto-cjk; \
	elif [ -x $(CHROMIUM) ]; then echo "提示：未找到中文字体，截图中的中文会显示为方框；请安装 fonts-noto-cjk。"; \
	elif [ -n "$$CI" ]; then echo "CI: $(CHROMIUM) is required (apt-get install chromium fonts-noto-cjk)"; exit 1; \
	else echo "未找到 $(CHROMIUM)，浏览器测试将跳过；如需运行：sudo apt-get install chromium fonts-noto-cjk（Debian/Ubuntu）。"; fi

# The export test renders the ledger through LibreOffice to PDF and reads the pages with poppler (docs/console.md).
# Like `browser`: installed with apt where we are root, else one line on how to get it (the print tests then
# skip, except under CI, where they must run).
office:
	@if command -v soffice >/dev/null 2>&1 && command -v pdftotext >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update && apt-get install -y --no-install-recommends libreoffice-calc libreoffice-writer poppler-utils; \
	elif [ -n "$$CI" ]; then echo "CI: LibreOffice and poppler are required (apt-get install libreoffice-calc libreoffice-writer poppler-utils)"; exit 1; \
	else echo "未找到 LibreOffice/poppler，打印版式测试将跳过；如需运行：sudo apt-get install libreoffice-calc libreoffice-writer poppler-utils。"; fi

# Tests in tiers: tests/unit (no local stack, seconds), tests/integration (the local stack), tests/e2e (browser).
test: which-python lint lint-infra browser office
	@# A browser that `make browser` installed (or CI) must run; without one the browser tests skip.
	if [ -x $(CHROMIUM) ] || [ -n "$$CI" ]; then REQUIRE_BROWSER=1 $(BIN)/python -m pytest; else $(BIN)/python -m pytest; fi

test-fast: which-python $(STAMP)
	$(BIN)/python -m pytest tests/unit

# Figures for docs/performance.md: validation speed, cold start, table cost, end to end (minutes; not a test).
bench: $(STAMP)
	$(BIN)/python -m tests.bench.run

clean:
	rm -rf $(VENV) .local .pytest_cache .ruff_cache build

# `make run` keeps the local stack's data in .local/state/ (docs/local-stack.md); this starts afresh.
.PHONY: clean-data
clean-data:
	rm -rf .local/state .local/outbox

# A bounded fuzz run of the HTTP API from its OpenAPI description (schemathesis), against the whole local
# stack on free ports; prints how many cases it tried. Not part of `make test` (about 30 s). More cases:
# `make fuzz FUZZ_MAX_EXAMPLES=200`. See docs/reliability.md.
.PHONY: fuzz
FUZZ_MAX_EXAMPLES ?= 40
fuzz: $(STAMP)
	FUZZ_MAX_EXAMPLES=$(FUZZ_MAX_EXAMPLES) $(BIN)/python -m tests.fuzz_api
