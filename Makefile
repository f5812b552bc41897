# `make run` and `make test` install what they need first (see scripts/deps.sh).
CARGO ?= cargo

.PHONY: run test test-sqlite test-pg test-bench test-interop browser-deps lint fmt deps build migrate bench fuzz

run: deps
	$(CARGO) run --release --locked -- serve

test: deps test-sqlite test-pg test-bench test-interop

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

# The load bench at a tiny size, in the dev profile, on both databases: it checks every
# answer it gets (statuses, bodies, verified SAML sign-ins), so this proves `make bench` runs
# clean. Its timings mean nothing here; speed is measured by `make bench` alone.
SMOKE = BENCH_USERS=2000 BENCH_SESSIONS=100 BENCH_GROUP_MEMBERS=500 BENCH_SECONDS=1 \
	BENCH_SAML_RESPONSES=300 BENCH_JSON_NAME=load-smoke BENCH_SOAK_SECONDS=3 \
	BENCH_SOAK_SAMPLE_SECONDS=1 BENCH_RESTART_BEFORE_SECONDS=1 BENCH_RESTART_DOWN_SECONDS=2 \
	BENCH_RESTART_AFTER_SECONDS=8
test-bench:
	@echo "== load bench, smoke size =="
	$(SMOKE) $(CARGO) bench --locked --profile dev --bench load
	$(SMOKE) scripts/with-postgres.sh $(CARGO) bench --locked --profile dev --bench load
	$(SMOKE) $(CARGO) bench --locked --profile dev --bench roundtrip

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
	PG_DURABLE=1 BENCH_JSON_NAME=load-durable scripts/with-postgres.sh $(CARGO) bench --locked --bench load
	$(CARGO) bench --locked --bench roundtrip

# The property tests over bad input (src/props.rs, tests/api/props_http.rs) with many more
# cases than `make test` runs: the filter parser, the PATCH engine, the SAML response check,
# path decoding and credentials, and the running server's answers to random requests.
FUZZ_CASES ?= 20000
fuzz: deps
	PROPTEST_CASES=$(FUZZ_CASES) $(CARGO) test --locked --lib props
	PROPTEST_CASES=$(FUZZ_CASES) $(CARGO) test --locked --test api props_http

deps:
	@scripts/deps.sh
