#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL server: starts one in a temporary folder,
# exports GATEHOUSE_TEST_DATABASE_URL (its maintenance database; each test creates its own
# database from there), runs the command, then stops the server and removes the folder.
#
#   scripts/with-postgres.sh cargo test
#
# PG_DURABLE=1 keeps PostgreSQL's durable defaults (fsync, synchronous_commit and
# full_page_writes on), for benchmark figures comparable with SQLite's `synchronous = FULL`:
#
#   PG_DURABLE=1 scripts/with-postgres.sh cargo bench --bench load
set -euo pipefail

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    echo "with-postgres: no PostgreSQL server found under /usr/lib/postgresql; run 'make deps'" >&2
    exit 1
fi

dir=$(mktemp -d /tmp/gatehouse-pg.XXXXXX)
# initdb refuses to run as root: as root, the server runs as the postgres account.
as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi

cleanup() {
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT

as_owner "$bindir/initdb" -D "$dir/data" -U gatehouse -A trust -E UTF8 --locale=C --no-sync >/dev/null

# Durability is not under test here, speed is welcome: no fsync (unless PG_DURABLE=1).
if [ "${PG_DURABLE:-0}" = 1 ]; then
    durability="-c fsync=on -c synchronous_commit=on -c full_page_writes=on"
else
    durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
fi
options() {
    echo "-p $1 -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 $durability"
}
started=""
for _ in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 20000))
    if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
        -o "$(options "$port")" \
        start >/dev/null; then
        started=$port
        break
    fi
done
if [ -z "$started" ]; then
    echo "with-postgres: the server did not start; its log:" >&2
    cat "$dir/server.log" >&2 || true
    exit 1
fi

# `$dir/pgctl stop|start` takes the same server away and brings it back (the load bench's
# restart scenario finds it at GATEHOUSE_TEST_PG_CTL).
owner=""
if [ "$(id -u)" = 0 ]; then owner="runuser -u postgres --"; fi
cat >"$dir/pgctl" <<EOF
#!/usr/bin/env bash
set -euo pipefail
case "\${1:-}" in
    stop) $owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null ;;
    start) $owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 -o "$(options "$started")" start >/dev/null ;;
    *) echo "usage: pgctl stop|start" >&2; exit 2 ;;
esac
EOF
chmod +x "$dir/pgctl"
export GATEHOUSE_TEST_PG_CTL="$dir/pgctl"
export GATEHOUSE_TEST_DATABASE_URL="postgres://gatehouse@127.0.0.1:$started/postgres"
echo "with-postgres: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$started"
"$@"
