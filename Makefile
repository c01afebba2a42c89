# Two commands: `make run` starts the bot on the embedded default, `make test` runs the suite.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench clean fonts browser

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m bot run

test: $(STAMP) browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The browser tests drive Debian's chromium: installed here when running as root and it is
# missing; otherwise those tests are skipped with one line saying so.
browser:
	@test -x /usr/bin/chromium || [ "$$(id -u)" != 0 ] \
	  || (apt-get update -q && apt-get install -y -q chromium)

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m bench ledger
	$(BIN)/python -m bench escalation
	$(BIN)/python -m bench callbacks
	$(BIN)/python -m bench changes

# The CJK font normally comes from PyPI (requirements.txt); this installs a system one as a
# fallback (root), and does nothing when a CJK font is already available.
fonts: $(STAMP)
	$(BIN)/python -c "import sys; from bot.notices.images import cjk_font_path; sys.exit(cjk_font_path() is None)" \
	  || (apt-get update -q && apt-get install -y -q fonts-wqy-microhei)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
