# `make run` starts the hub; `make test` runs the whole suite on a fresh machine.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
export UV_PYTHON_DOWNLOADS := never
export UV_COMPILE_BYTECODE := 1

.PHONY: venv system-deps run test lint fmt bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m pip install --quiet --disable-pip-version-check uv || true
	if python3 -m uv --version >/dev/null 2>&1; then \
	    python3 -m uv venv --quiet --allow-existing -p python3 $(VENV) && \
	    python3 -m uv pip install --quiet --python $(VENV)/bin/python -e '.[all,dev]'; \
	else \
	    python3 -m venv $(VENV) && $(PY) -m pip install --quiet -e '.[all,dev]'; \
	fi
	touch $@

venv: $(VENV)/.installed

# Debian packages the tests need: Firefox ESR receives Web Push offline, Chromium renders the web app,
# PostgreSQL proves the hub's store is portable (tests/hub/store), systemd-analyze checks the unit and
# Caddy (with certutil, libnss3-tools, to trust its local CA in a Firefox profile) is the TLS proxy of
# the deployment test (tests/e2e/test_caddy_tls.py).
system-deps:
	@missing=""; \
	command -v firefox-esr >/dev/null || missing="$$missing firefox-esr"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v systemd-analyze >/dev/null || missing="$$missing systemd"; \
	command -v curl >/dev/null || missing="$$missing curl"; \
	command -v caddy >/dev/null || missing="$$missing caddy"; \
	command -v certutil >/dev/null || missing="$$missing libnss3-tools"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	    echo "installing Debian packages:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null) \
	    || echo "warning: could not install$$missing"; \
	fi

run: venv
	$(VENV)/bin/pushlog serve

test: venv system-deps
	$(VENV)/bin/pytest

lint: venv
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy

fmt: venv
	$(VENV)/bin/ruff check --fix src tests benchmarks
	$(VENV)/bin/ruff format src tests benchmarks

# Every benchmark prints its ratios beside the targets and writes docs/performance/<name>.json, from
# which plot.py draws the PNGs of docs/performance.md. `make test` runs each once in smoke mode
# (tests/benchmarks/test_smoke.py), so a broken benchmark fails the suite.
bench: venv
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done
	$(PY) benchmarks/plot.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
