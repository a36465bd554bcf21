#!/usr/bin/env bash
# Fetch the CPython 3.13.5 source tarball and verify it.
#
#   scripts/fetch-cpython.sh [--tarball PATH]
#   TRICOLOR_CPYTHON_TARBALL=PATH scripts/fetch-cpython.sh
#
# With a path, that file is verified and used.  Otherwise the tarball comes from
# Debian 13 ("trixie")'s source package python3.13 (the upstream .orig.tar.xz,
# without Debian's patches): a deb-src entry for trixie is derived from this
# machine's own Debian entries (their URIs and keyring; no host is named here),
# then `apt-get source --download-only` fetches it.  Either way the sha256 must
# match, and the verified tarball is kept in the cache.  Prints its path.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

tarball=${TRICOLOR_CPYTHON_TARBALL:-}
while (($#)); do
    case $1 in
        --tarball) [[ $# -ge 2 ]] || die "--tarball needs a path"; tarball=$2; shift 2 ;;
        --tarball=*) tarball=${1#--tarball=}; shift ;;
        *) die "unknown argument: $1 (usage: fetch-cpython.sh [--tarball PATH])" ;;
    esac
done

cached=$TRICOLOR_CACHE/src/$CPYTHON_TARBALL_NAME
mkdir -p "$TRICOLOR_CACHE/src"

verify() {  # verify FILE: exit with a clear message unless its sha256 matches
    [[ -f $1 ]] || die "no such file: $1"
    local got
    got=$(sha256sum "$1" | cut -d' ' -f1)
    [[ $got == "$CPYTHON_SHA256" ]] || die "$1: sha256 $got, expected $CPYTHON_SHA256 (not the CPython $CPYTHON_VERSION tarball Debian ships; nothing was changed)"
}

if [[ -n $tarball ]]; then
    verify "$tarball"
    if [[ $(realpath "$tarball") != "$(realpath -m "$cached")" ]]; then
        cp "$tarball" "$cached.tmp" && mv -f "$cached.tmp" "$cached"
    fi
    log "using $tarball (sha256 verified)"
    echo "$cached"
    exit 0
fi

if [[ -f $cached ]]; then
    verify "$cached"
    log "CPython source: $cached (cached, sha256 verified)"
    echo "$cached"
    exit 0
fi

# Derive deb-src entries for trixie from the machine's existing Debian entries.
srcfile=/etc/apt/sources.list.d/tricolor-trixie-src.sources
if [[ ! -f $srcfile ]]; then
    [[ $(id -u) == 0 ]] || die "need root to add $srcfile (or pass --tarball PATH)"
    entries=$(python3 - <<'PY'
import glob, re
main = sec = key = None
def consider(uri, suites, signed):
    global main, sec, key
    if "debian" not in uri: return
    for s in suites:
        if s.endswith("-security"): sec = sec or uri
        elif not s.endswith(("-updates", "-backports", "-proposed-updates")): main = main or uri
    key = key or signed
for f in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for stanza in re.split(r"\n\s*\n", open(f).read()):
        fields = dict(re.findall(r"^([\w-]+):\s*(.*)$", stanza, re.M))
        if "deb" in fields.get("Types", "").split() and fields.get("Enabled", "yes") != "no":
            for uri in fields.get("URIs", "").split():
                consider(uri, fields.get("Suites", "").split(), fields.get("Signed-By"))
for f in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    try: lines = open(f).read().splitlines()
    except OSError: continue
    for l in lines:
        m = re.match(r"^\s*deb\s+(\[[^]]*\]\s+)?(\S+)\s+(\S+)", l)
        if m: consider(m.group(2), [m.group(3)], None)
if not main: raise SystemExit(1)
key = key or "/usr/share/keyrings/debian-archive-keyring.gpg"
out = [f"Types: deb-src\nURIs: {main}\nSuites: trixie trixie-updates\nComponents: main\nSigned-By: {key}\n"]
if sec:
    out.append(f"Types: deb-src\nURIs: {sec}\nSuites: trixie-security\nComponents: main\nSigned-By: {key}\n")
print("\n".join(out))
PY
) || die "found no Debian entry in /etc/apt/sources.list* to derive a trixie deb-src entry from (pass --tarball PATH)"
    log "adding $srcfile (deb-src for trixie, from this machine's Debian entries)"
    printf '# Added by tricolor scripts/fetch-cpython.sh: source packages only.\n%s\n' "$entries" > "$srcfile"
fi
log "apt-get update (for the trixie source index)"
apt-get update -qq || die "apt-get update failed"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log "downloading python3.13=$CPYTHON_DEB_VERSION source package"
(cd "$work" && apt-get source --download-only -qq "python3.13=$CPYTHON_DEB_VERSION" >/dev/null 2>"$work/err") \
    || die "apt-get source python3.13=$CPYTHON_DEB_VERSION failed: $(tail -n 3 "$work/err")"
verify "$work/$CPYTHON_TARBALL_NAME"
mv "$work/$CPYTHON_TARBALL_NAME" "$cached"
log "CPython source: $cached (sha256 verified)"
echo "$cached"
