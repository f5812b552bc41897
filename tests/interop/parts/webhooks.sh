#!/usr/bin/env bash
# Webhooks against a receiver that verifies with the Standard Webhooks reference package
# (PyPI standardwebhooks): every delivery verifies and a tampered copy does not; with the
# receiver down for a while and then up, every change arrives once in order (or again
# under the same webhook-id); after a kill -9 of the server mid-delivery and a restart,
# nothing is lost. The checks on what arrived are in webhook_check.py.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
source "$here/../lib.sh"

python_tools
build_gatehouse
new_gatehouse
# A crashed holder's lease is taken over after this long.
export GATEHOUSE_WEBHOOKS__LEASE_SECONDS=2

"$bin" org create acme >/dev/null
token=$("$bin" token create acme | tail -n 1)
rport=$(free_port)
secret=$("$bin" webhook create acme --url "http://127.0.0.1:$rport/hook" | tail -n 1)
received="$work/received.jsonl"
touch "$received"

start_receiver() {
    start_service receiver "http://127.0.0.1:$rport/" \
        env SECRET="$secret" PORT="$rport" LOG="$received" DELAY="${1:-0}" \
        "$venv/bin/python" "$interop_here/webhook_receiver.py"
    receiver_pid=${interop_pids[-1]}
}

stop() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

scim_user() {
    curl -fsS -o /dev/null -X POST "$gbase/scim/v2/acme/Users" \
        -H "Authorization: Bearer $token" -H "Content-Type: application/scim+json" \
        -d "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"$1@acme.test\"}"
}

# Waits until changes 1..N have each arrived at least once.
wait_for_changes() {
    local n=$1
    for _ in $(seq 1 300); do
        local got
        got=$("$venv/bin/python" -c 'import json,sys; print(len({json.loads(l).get("seq") for l in open(sys.argv[1]) if "seq" in l}))' "$received")
        [ "$got" -ge "$n" ] && return 0
        sleep 0.1
    done
    echo "interop: only $got of $n changes arrived" >&2
    show_logs
    return 1
}

start_gatehouse
server_pid=${interop_pids[-1]}
start_receiver
echo "== webhooks: Gatehouse at $gbase, receiver at 127.0.0.1:$rport =="

# Up: five changes.
for i in 1 2 3 4 5; do scim_user "up$i"; done
wait_for_changes 5

# Down for a while (the first attempt fails, the retry 5 s later finds it up again).
stop "$receiver_pid"
for i in 1 2 3 4 5; do scim_user "down$i"; done
sleep 2
start_receiver
wait_for_changes 10

# kill -9 mid-delivery: a slow receiver, the server killed after a few deliveries, then
# started again on the same database.
stop "$receiver_pid"
start_receiver 0.3
for i in 1 2 3 4 5 6 7 8 9 10; do scim_user "crash$i"; done
wait_for_changes 12
kill -9 "$server_pid"
wait "$server_pid" 2>/dev/null || true
start_gatehouse
wait_for_changes 20

if ! LOG="$received" EXPECTED=20 "$venv/bin/python" "$interop_here/webhook_check.py"; then
    show_logs
    exit 1
fi
