# The two quickstart commands (README): `make local` and `make test`. Each installs what it needs.
.PHONY: local test lint bootstrap

bootstrap:
	@scripts/bootstrap.sh

local:
	@BOOTSTRAP_SKIP_CHECKOV=1 scripts/bootstrap.sh
	@.venv/bin/relaykit local $(ARGS)

test: bootstrap
	@.venv/bin/ruff check .
	@.venv/bin/ruff format --check .
	@.venv/bin/mypy
	@.venv/bin/pytest $(ARGS)

lint: bootstrap
	@.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy
