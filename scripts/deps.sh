#!/usr/bin/env bash
# Installs what building and testing Gatehouse needs on Debian 12, skipping what is there:
# the C libraries samael's XML signatures link against, libclang for its bindings,
# the PostgreSQL server for the second test leg, Python for the SCIM conformance suite,
# nginx and Caddy for the forward-auth tests, Chromium and Node.js for the browser tests, xmlsec1 for
# the pysaml2 identity provider of the interoperability suite.
# Rust itself comes from rustup (>= 1.89).
set -euo pipefail

packages=(
    build-essential pkg-config ca-certificates curl
    libssl-dev libxml2-dev libxmlsec1-dev libclang-dev
    postgresql
    python3 python3-venv
    nginx
    caddy
    chromium
    xmlsec1
)
# Node.js: Debian's, unless a newer one is installed already.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}"
    if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
        echo "deps: run as root, or install: apt-get install ${missing[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
    echo "deps: no Rust toolchain: install one with rustup (https://rustup.rs), version 1.89 or newer" >&2
    exit 1
fi
version=$(rustc --version | awk '{print $2}')
if [ "$(printf '%s\n' 1.89.0 "$version" | sort -V | head -n 1)" != 1.89.0 ]; then
    echo "deps: rustc $version is older than 1.89; run 'rustup update'" >&2
    exit 1
fi
