# Two commands do everything on a fresh Debian/Ubuntu machine with Python 3.11:
#   make run    the station at http://127.0.0.1:5000 with the demo line, live on a local Mosquitto
#   (make install alone: the dependencies and the compiled translations)
#   make test   every test (installs Mosquitto and Chromium from the system's packages if missing)

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
SUDO   := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
APT    := DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get

# The catalogues are compiled here, at install, not by the app into its package at start-up.
CATALOGUES := $(patsubst %.po,%.mo,$(wildcard station/translations/*/LC_MESSAGES/messages.po))

.PHONY: install run test lint bench demo-broker system-test-deps clean

$(PY):
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"' \
	  || { echo "Install Python 3.11: $(APT) install python3.11 python3.11-venv"; exit 1; }
	$(PYTHON) -m venv $(VENV) || { $(APT) update && $(APT) install -y python3-venv python3.11-venv \
	  && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.run-deps: requirements.txt | $(PY)
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.test-deps: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.run-deps

%.mo: %.po | $(VENV)/.run-deps
	$(VENV)/bin/pybabel compile --statistics -i $< -o $@ || { rm -f $@; exit 1; }

install: $(VENV)/.run-deps $(CATALOGUES)

run: install demo-broker
	$(PY) run.py --demo

# The demo starts a Mosquitto of its own on a free port: install it where the system lets us.
demo-broker:
	@command -v mosquitto >/dev/null || test -x /usr/sbin/mosquitto \
	  || { $(APT) update && $(APT) install -y mosquitto; } \
	  || echo "Mosquitto could not be installed: the demo runs without a broker"

system-test-deps:
	@command -v mosquitto >/dev/null && { test -x /usr/bin/chromium || command -v chromium >/dev/null; } \
	  || { $(APT) update && $(APT) install -y mosquitto chromium; }

test: $(VENV)/.test-deps install system-test-deps
	$(PY) -m ruff check station tests bench run.py
	$(PY) -m pytest

bench: $(VENV)/.test-deps
	for b in bench/*.py; do case $$b in */floor_app.py|*/orm_app.py) ;; *) $(PY) $$b ;; esac; done

clean:
	rm -rf $(VENV) instance .pytest_cache $(CATALOGUES)
