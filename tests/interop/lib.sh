# Shared by the interoperability scripts (source it): the Python tools in a virtual
# environment, the Node tools in node_modules, and a Gatehouse server of its own per part.
# Everything is installed under tests/interop/ (ignored by git).

interop_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
interop_root=$(cd "$interop_here/../.." && pwd)
venv="$interop_here/.venv"
bin="$interop_root/target/debug/gatehouse"

# The Python tools (scim2-tester, pysaml2), installed once per requirements change.
python_tools() {
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv"
    fi
    if ! cmp -s "$interop_here/requirements.txt" "$venv/.installed" 2>/dev/null; then
        "$venv/bin/pip" install -q --disable-pip-version-check -r "$interop_here/requirements.txt"
        cp "$interop_here/requirements.txt" "$venv/.installed"
    fi
}

# The Node tools (oidc-provider, playwright-core), from the lock file.
node_tools() {
    if [ ! -d "$interop_here/node_modules" ] || [ "$interop_here/package-lock.json" -nt "$interop_here/node_modules" ]; then
        (cd "$interop_here" && npm ci --no-audit --no-fund --loglevel=error)
        touch "$interop_here/node_modules"
    fi
}

# The server binary, built once.
build_gatehouse() {
    (cd "$interop_root" && cargo build --locked -q)
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Prepares a Gatehouse of its own in a fresh folder: sets $work, $gport, $gbase and the
# GATEHOUSE_* environment for the CLI and the server. Call start_gatehouse after setup.
new_gatehouse() {
    work=$(mktemp -d /tmp/gatehouse-interop.XXXXXX)
    gport=$(free_port)
    gbase="http://127.0.0.1:$gport"
    export GATEHOUSE_DATABASE__URL="sqlite://$work/gatehouse.db"
    export GATEHOUSE_SERVER__LISTEN="127.0.0.1:$gport"
    export GATEHOUSE_SERVER__PUBLIC_URL="$gbase"
    export GATEHOUSE_SECRETS__KEY_FILE="$work/secret.key"
    interop_pids=()
    trap interop_cleanup EXIT
}

start_gatehouse() {
    "$bin" serve >"$work/stdout" 2>"$work/server.log" &
    interop_pids+=($!)
    for _ in $(seq 1 100); do
        grep -q "listening on" "$work/stdout" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "interop: the server did not start; its log:" >&2
    cat "$work/server.log" >&2
    return 1
}

# Starts a background process whose output goes to $work/NAME.log, and waits until URL
# answers.
start_service() {
    local name=$1 url=$2
    shift 2
    "$@" >"$work/$name.log" 2>&1 &
    interop_pids+=($!)
    for _ in $(seq 1 150); do
        curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
        sleep 0.2
    done
    echo "interop: $name did not answer at $url; its log:" >&2
    cat "$work/$name.log" >&2
    return 1
}

# On failure, what the servers said.
show_logs() {
    for f in "$work"/*.log; do
        echo "== $(basename "$f") (last lines) ==" >&2
        tail -n 40 "$f" >&2
    done
}

# Runs on EXIT, under the part's `set -e`: a killed process's status (143) must not end the
# trap early, which would leave $work behind and turn a passing part into a failing one.
interop_cleanup() {
    for p in "${interop_pids[@]:-}"; do
        if [ -n "$p" ]; then
            kill "$p" 2>/dev/null || true
            wait "$p" 2>/dev/null || true
        fi
    done
    rm -rf "$work"
}
