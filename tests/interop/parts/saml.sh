#!/usr/bin/env bash
# SAML with pysaml2 as the identity provider (tests/interop/saml_idp.py), in Debian's
# Chromium: the IdP's metadata imported with the CLI, SP- and IdP-initiated logins through
# the IdP's own login page, an encrypted assertion, a SCIM deactivation that ends an open
# session, and a SCIM-pushed user linked (not duplicated) at its SAML login, refused while
# deactivated and let in again once reactivated. The flows are in saml_flows.mjs.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

python_tools
node_tools
build_gatehouse
new_gatehouse

"$bin" org create acme --name "Acme Corp" --domain acme.test >/dev/null
token=$("$bin" token create acme --description interop-saml | tail -n 1)
start_gatehouse

idp_port=$(free_port)
idp_base="http://127.0.0.1:$idp_port"
start_service saml-idp "$idp_base/metadata" "$venv/bin/python" "$interop_here/saml_idp.py" "$idp_port" "$work"

if ! "$bin" saml import-metadata acme "$idp_base/metadata"; then
    echo "saml: import-metadata of $idp_base/metadata failed; the metadata:" >&2
    curl -sS "$idp_base/metadata" >&2 || true
    show_logs
    exit 1
fi

# On failure, the organisation's refusals with their reasons, as the admin API reports them.
show_refusals() {
    local key
    key=$("$bin" api-key create --org acme --description interop-saml | tail -n 1)
    echo "== acme's failed events (GET /api/v1/orgs/acme/events?failures=true) ==" >&2
    curl -sS -H "Authorization: Bearer $key" "$gbase/api/v1/orgs/acme/events?failures=true&limit=10" >&2 || true
    echo >&2
}

# On failure, the last SAMLResponse the IdP posted, as posted (an encrypted assertion stays
# encrypted; the IdP's log says which were).
show_sent() {
    local last
    last=$(ls "$work"/saml-responses/*.xml 2>/dev/null | tail -n 1)
    [ -n "$last" ] || return 0
    echo "== the last SAMLResponse the IdP sent ($(basename "$last")) ==" >&2
    cat "$last" >&2
    echo >&2
}

cd "$interop_here"
if ! GBASE="$gbase" IDP_BASE="$idp_base" IDP_LOG="$work/saml-idp.log" TOKEN="$token" BIN="$bin" \
    IDP_PASSWORD="correct horse battery staple" node saml_flows.mjs; then
    show_sent
    show_refusals
    show_logs
    exit 1
fi
