#!/bin/sh
# Installs the Debian/Ubuntu packages ballast builds and tests with.
# Elsewhere it says what is needed and leaves the system alone.
set -e
PKGS="build-essential pkg-config libgsl-dev libcsv-dev libcjson-dev \
libxxhash-dev libcriterion-dev"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
        || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ballast: missing packages:$missing" >&2
    echo "ballast: install GSL, libcsv, cJSON, xxHash and Criterion" \
         "development packages with your system's package manager" >&2
    exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing:$missing" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
