# Shared helpers for tricolor's scripts (sourced, not run).
# Every script prints progress as "[tricolor] ..." on stderr and fails with one
# clear line saying what is wrong and what to do.

TRICOLOR_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Builds and the downloaded tarball live outside the clone, keyed by content.
TRICOLOR_CACHE=${TRICOLOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tricolor}

CPYTHON_VERSION=3.13.5
CPYTHON_DEB_VERSION=3.13.5-2+deb13u5
CPYTHON_TARBALL_NAME=python3.13_${CPYTHON_VERSION}.orig.tar.xz
CPYTHON_SHA256=93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640

log() { printf '[tricolor] %s\n' "$*" >&2; }
die() { printf '[tricolor] error: %s\n' "$*" >&2; exit 1; }
