#!/usr/bin/env bash
# Regenerate files/, patches/ and series from a git checkout of CPython 3.13.5
# in which each commit after the pristine import is one patch of the series.
# The first line of each commit message is "NNNN-short-name: Subject".
#
# Every file the series adds goes to files/ as it is at HEAD; the patches
# carry only the changes to files BASE already has (the hooks).
#
#   runtime-patch/export-series.sh /path/to/cpython-git BASE_COMMIT
set -euo pipefail
src=${1:?usage: export-series.sh CPYTHON_GIT_DIR BASE_COMMIT}
base=${2:?usage: export-series.sh CPYTHON_GIT_DIR BASE_COMMIT}
here=$(cd "$(dirname "$0")" && pwd)

mapfile -t -d '' added < <(git -C "$src" diff -z --name-only --no-renames --diff-filter=A "$base" HEAD)
hooks=(. "${added[@]/#/:(exclude,literal)}")   # pathspec: every file but the added ones
commits=$(git -C "$src" rev-list --reverse "$base..HEAD")
for c in $commits; do
    if git -C "$src" diff --quiet "$c~1" "$c" -- "${hooks[@]}"; then
        echo "export-series.sh: $(git -C "$src" log -1 --format=%s "$c") changes only added files; fold it into another commit" >&2
        exit 1
    fi
done

rm -rf "$here/files"
for f in "${added[@]}"; do
    mkdir -p "$here/files/$(dirname "$f")"
    git -C "$src" cat-file blob "HEAD:$f" > "$here/files/$f"
    if [[ $(git -C "$src" ls-tree HEAD -- "$f") == 100755* ]]; then chmod +x "$here/files/$f"; fi
done

rm -f "$here"/patches/*.patch
: > "$here/series"
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
        git -C "$src" diff --stat=100 "$c~1" "$c" -- "${hooks[@]}"
        echo
        git -C "$src" diff "$c~1" "$c" -- "${hooks[@]}"
    } > "$here/patches/$name.patch"
    echo "$name.patch" >> "$here/series"
done
echo "wrote $i patches and ${#added[@]} files" >&2
