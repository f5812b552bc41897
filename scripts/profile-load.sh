#!/usr/bin/env bash
# Profiles the server under one load scenario: runs `cargo bench --bench load` with only that
# scenario and, while it runs, samples the server process (every thread, kernel included)
# with perf. Writes target/bench/profile-<scenario>.txt (the hottest symbols, with callers)
# and keeps perf.data beside it for `perf report -i`.
#
#   scripts/profile-load.sh mix            # SQLite
#   scripts/with-postgres.sh scripts/profile-load.sh auth-check
#
# BENCH_USERS, BENCH_SECONDS and the other variables of the load bench apply. Needs perf
# (Debian: linux-perf) and kernel.perf_event_paranoid <= 2 (the default on Debian).
set -euo pipefail
cd "$(dirname "$0")/.."
scenario=${1:?usage: scripts/profile-load.sh SCENARIO}
command -v perf >/dev/null || { echo "perf is missing: apt-get install linux-perf" >&2; exit 1; }
out=target/bench
mkdir -p "$out"
export BENCH_SCENARIOS=$scenario BENCH_SECONDS=${BENCH_SECONDS:-20}
cargo bench --locked --bench load >"$out/profile-$scenario.log" 2>&1 &
bench=$!
# The server starts after seeding; sample the middle of the measured run.
server=""
while [ -z "$server" ] && kill -0 "$bench" 2>/dev/null; do
    sleep 1
    server=$(pgrep -f 'gatehouse serve' | head -1 || true)
done
[ -n "$server" ] || { cat "$out/profile-$scenario.log" >&2; exit 1; }
# saml-acs signs its responses first (the IdP's work, with the server idle): wait for it.
if [ "$scenario" = saml-acs ]; then
    while ! grep -q "saml-acs: signed" "$out/profile-$scenario.log" && kill -0 "$bench" 2>/dev/null; do
        sleep 1
    done
fi
sleep 3
perf record -F 999 -g -p "$server" -o "$out/perf-$scenario.data" -- sleep $((BENCH_SECONDS / 2)) 2>/dev/null
wait "$bench"
perf report -i "$out/perf-$scenario.data" --no-children --stdio --sort comm,dso,symbol \
    --percent-limit 0.5 >"$out/profile-$scenario.txt" 2>/dev/null
grep '^|' "$out/profile-$scenario.log" || true
echo "profile: $out/profile-$scenario.txt (perf data: $out/perf-$scenario.data)"
