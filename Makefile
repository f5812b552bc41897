# `make run` and `make test` install what they need first (see scripts/deps.sh).
CARGO ?= cargo

.PHONY: run test test-sqlite test-pg test-interop lint fmt deps build migrate bench

run: deps
	$(CARGO) run --release --locked -- serve

test: deps test-sqlite test-pg test-interop

test-sqlite:
	@echo "== tests on SQLite =="
	$(CARGO) test --locked --lib --bins --tests

test-pg:
	@echo "== tests on PostgreSQL =="
	scripts/with-postgres.sh $(CARGO) test --locked --lib --bins --tests

test-interop:
	tests/interop/run-scim-tester.sh

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
bench: deps
	$(CARGO) bench --locked --bench scim
	scripts/with-postgres.sh $(CARGO) bench --locked --bench scim

deps:
	@scripts/deps.sh
