# `make run` and `make test` install what they need first (see scripts/deps.sh).
CARGO ?= cargo

.PHONY: run test test-sqlite test-pg test-interop browser-deps lint fmt deps build migrate bench

run: deps
	$(CARGO) run --release --locked -- serve

test: deps test-sqlite test-pg test-interop

# Playwright's driver for the console's browser test (it drives Debian's Chromium; it never
# downloads a browser of its own).
browser-deps:
	@test -d tests/browser/node_modules/playwright-core || npm ci --prefix tests/browser --no-audit --no-fund

test-sqlite: browser-deps
	@echo "== tests on SQLite =="
	$(CARGO) test --locked --lib --bins --tests

test-pg: browser-deps
	@echo "== tests on PostgreSQL =="
	scripts/with-postgres.sh $(CARGO) test --locked --lib --bins --tests

test-interop:
	tests/interop/run.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

build: deps
	$(CARGO) build --release --locked

migrate: deps
	$(CARGO) run --release --locked -- migrate

# Benchmarks, never part of `make test`: SQLite, then a throwaway PostgreSQL server.
# `load` starts the release binary (`gatehouse serve`) that cargo builds for it.
bench: deps
	$(CARGO) bench --locked --bench scim
	scripts/with-postgres.sh $(CARGO) bench --locked --bench scim
	$(CARGO) bench --locked --bench load
	scripts/with-postgres.sh $(CARGO) bench --locked --bench load

deps:
	@scripts/deps.sh
