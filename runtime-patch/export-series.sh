#!/usr/bin/env bash
# Regenerate patches/ and series from a git checkout of CPython 3.13.5 in
# which each commit after the pristine import is one patch of the series.
# The first line of each commit message is "NNNN-short-name: Subject".
#
#   runtime-patch/export-series.sh /path/to/cpython-git BASE_COMMIT
set -euo pipefail
src=${1:?usage: export-series.sh CPYTHON_GIT_DIR BASE_COMMIT}
base=${2:?usage: export-series.sh CPYTHON_GIT_DIR BASE_COMMIT}
here=$(cd "$(dirname "$0")" && pwd)
rm -f "$here"/patches/*.patch
: > "$here/series"
commits=$(git -C "$src" rev-list --reverse "$base..HEAD")
total=$(wc -w <<<"$commits")
i=0
for c in $commits; do
    i=$((i + 1))
    line=$(git -C "$src" log -1 --format=%s "$c")
    name=${line%%:*}
    subject=${line#*: }
    {
        echo "Subject: [PATCH $i/$total] $subject"
        echo
        git -C "$src" log -1 --format=%b "$c"
        echo "---"
        git -C "$src" diff --stat=100 "$c~1" "$c"
        echo
        git -C "$src" diff "$c~1" "$c"
    } > "$here/patches/$name.patch"
    echo "$name.patch" >> "$here/series"
done
echo "wrote $i patches" >&2
