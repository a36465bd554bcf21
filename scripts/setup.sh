#!/usr/bin/env bash
# Install what tricolor needs on a Debian machine, then fetch the CPython source.
#
#   scripts/setup.sh [--tarball PATH]
#
# Installs only the Debian packages that are missing (one apt-get call), so a
# second run is quick and touches nothing.  The CPython tarball is fetched and
# verified by scripts/fetch-cpython.sh (see there for --tarball).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

# The collector core and its tests, the baseline peer, the plots.
core_pkgs=(build-essential cmake pkg-config git xz-utils dpkg-dev
           libmimalloc-dev libtbb-dev librapidcheck-dev libgc-dev
           libgtest-dev libbenchmark-dev python3-matplotlib)
# CPython 3.13's build dependencies (the optional modules the test suite uses).
cpython_pkgs=(libssl-dev libffi-dev zlib1g-dev libbz2-dev liblzma-dev
              libsqlite3-dev libreadline-dev libncurses-dev libgdbm-dev
              libgdbm-compat-dev uuid-dev libexpat1-dev)

missing=()
for p in "${core_pkgs[@]}" "${cpython_pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$p")
done
if ((${#missing[@]})); then
    [[ $(id -u) == 0 ]] || die "missing Debian packages: ${missing[*]} (run as root, or install them)"
    log "installing: ${missing[*]}"
    apt-get update -qq || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        >/dev/null || die "apt-get install failed for: ${missing[*]}"
fi
log "Debian packages: all present"

"$here/fetch-cpython.sh" "$@"
