#!/usr/bin/env bash
# The interoperability suite: Gatehouse against independent implementations, each part
# with a server of its own. `make test-interop` runs it alone; `make test` runs it last.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for part in "$here/run-scim-tester.sh" "$here"/parts/*.sh; do
    [ -e "$part" ] || continue
    echo "== interop: $(basename "$part" .sh) =="
    "$part"
done
