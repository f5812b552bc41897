#!/usr/bin/env bash
# SCIM conformance: starts the real server on a fresh SQLite database, creates an
# organisation and a token with the command line, and runs scim2-tester against it.
# Tools go into tests/interop/.venv (ignored by git). Run alone with `make test-interop`.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv="$here/.venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"

bin="$root/target/debug/gatehouse"
(cd "$root" && cargo build --locked -q)

work=$(mktemp -d /tmp/gatehouse-interop.XXXXXX)
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
export GATEHOUSE_DATABASE__URL="sqlite://$work/gatehouse.db"
export GATEHOUSE_SERVER__LISTEN="127.0.0.1:$port"
export GATEHOUSE_SERVER__PUBLIC_URL="$base"
"$bin" org create conformance >/dev/null
token=$("$bin" token create conformance --description scim2-tester | tail -n 1)

"$bin" serve >"$work/stdout" 2>"$work/server.log" &
pid=$!
for _ in $(seq 1 100); do
    grep -q "listening on" "$work/stdout" 2>/dev/null && break
    sleep 0.1
done
if ! grep -q "listening on" "$work/stdout"; then
    echo "run-scim-tester: the server did not start; its log:" >&2
    cat "$work/server.log" >&2
    exit 1
fi

echo "== SCIM conformance (scim2-tester) against $base/scim/v2/conformance =="
if ! "$venv/bin/python" "$here/scim_conformance.py" "$base/scim/v2/conformance" "$token"; then
    echo "== server log ==" >&2
    tail -n 40 "$work/server.log" >&2
    exit 1
fi
