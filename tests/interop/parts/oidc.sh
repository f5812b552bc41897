#!/usr/bin/env bash
# OpenID Connect against oidc-provider (npm, OpenID Certified) as the provider, in Debian's
# Chromium: a public client with PKCE, a confidential client with its secret (and a wrong
# secret that fails at the token step), a SCIM deactivation ending an open session, and a
# SCIM user's lifecycle through OIDC logins. The checks are in oidc_flows.mjs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
source "$here/../lib.sh"

node_tools
build_gatehouse
new_gatehouse

op_port=$(free_port)
op_url="http://127.0.0.1:$op_port"
conf_secret=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
start_service op "$op_url/.well-known/openid-configuration" \
    env OP_PORT="$op_port" GATEHOUSE_URL="$gbase" CONF_SECRET="$conf_secret" \
    node "$interop_here/oidc_op.mjs"

# Three organisations: the public client, the confidential client, and the confidential
# client with a wrong secret.
for org in pub conf wrong; do
    "$bin" org create "$org" >/dev/null
done
"$bin" oidc configure pub --issuer "$op_url" --client-id public-app >/dev/null
"$bin" oidc configure conf --issuer "$op_url" --client-id conf-app --client-secret "$conf_secret" >/dev/null
"$bin" oidc configure wrong --issuer "$op_url" --client-id conf-app --client-secret "not-$conf_secret" >/dev/null
token=$("$bin" token create pub | tail -n 1)

start_gatehouse
echo "== OIDC: Gatehouse at $gbase, oidc-provider at $op_url =="
if ! (cd "$interop_here" && BASE_URL="$gbase" OP_URL="$op_url" OP_LOG="$work/op.log" \
    SCIM_TOKEN="$token" node oidc_flows.mjs); then
    show_logs
    exit 1
fi
