#!/usr/bin/env bash
# Build the two free-threaded interpreters side by side from one tarball:
#
#   stock     CPython 3.13.5 --disable-gil, no patches
#   tricolor  the same, with the fork's own files (runtime-patch/files/)
#             added and runtime-patch/series applied
#
#   scripts/build-cpython.sh [--tarball PATH] [--only stock|tricolor] [--jobs N]
#
# Each build is installed into $TRICOLOR_CACHE/cpython/<variant>-<key>, where
# key hashes the tarball, the configure flags, the build recipe version and
# (tricolor) every file under runtime-patch/ but the *.md: files/, patches/,
# series.  An unchanged tree reuses the build.  The results
# are linked as build/bin/python3.13t-stock and build/bin/python3.13t-tricolor.
#
# --only tricolor-debug builds the tricolor interpreter --with-pydebug (its
# collector then validates every verification, see
# Python/gc_tricolor_embedder.c) as build/bin/python3.13td-tricolor;
# --only tricolor-tsan builds it --with-thread-sanitizer, its core with
# -fsanitize=thread, as build/bin/python3.13t-tricolor-tsan
# (scripts/test-tsan-fork.sh).  Neither is built by default.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

tarball_arg=() only="" jobs=$(nproc)
while (($#)); do
    case $1 in
        --tarball) [[ $# -ge 2 ]] || die "--tarball needs a path"; tarball_arg=(--tarball "$2"); shift 2 ;;
        --only) [[ ${2:-} =~ ^(stock|tricolor|tricolor-debug|tricolor-tsan)$ ]] || die "--only takes stock, tricolor, tricolor-debug or tricolor-tsan"; only=$2; shift 2 ;;
        --jobs) jobs=$2; shift 2 ;;
        *) die "unknown argument: $1 (usage: build-cpython.sh [--tarball PATH] [--only stock|tricolor] [--jobs N])" ;;
    esac
done

tarball=$("$here/fetch-cpython.sh" "${tarball_arg[@]}")
# -falign-functions=64: every function starts on a cache line in both
# builds, so that a patch that adds code in one file does not shift the
# alignment of the interpreter loop in another (papers/design.md §3: a
# call-heavy benchmark moved by 7 % on alignment alone).
configure_flags=(--disable-gil --with-ensurepip=no --with-system-libmpdec=no
                 CFLAGS=-falign-functions=64)
patchdir=$TRICOLOR_ROOT/runtime-patch

# Bump when the build steps below change in a way that changes the result.
recipe=2
# The collector core that the tricolor interpreter links (the binding,
# runtime-patch/files/Python/gc_tricolor*.c, calls it through tricolor/c_api.h).
core_inputs=(CMakeLists.txt cmake include allocator/bitmap.c allocator/segment_map.c gc)

flags_of() {  # flags_of VARIANT: configure flags
    local f=("${configure_flags[@]}")
    [[ $1 == *-debug ]] && f+=(--with-pydebug)
    [[ $1 == *-tsan ]] && f+=(--with-thread-sanitizer)
    echo "${f[@]}"
}
exe_of() {  # exe_of VARIANT: the installed interpreter's name
    [[ $1 == *-debug ]] && echo python3.13td || echo python3.13t
}

key_of() {  # key_of VARIANT: the hash of everything the build depends on
    {
        echo "$CPYTHON_SHA256 $1 $(flags_of "$1") recipe=$recipe"
        if [[ $1 == tricolor* ]]; then
            (cd "$patchdir" && find . -type f ! -name '*.md' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
            (cd "$TRICOLOR_ROOT" && find "${core_inputs[@]}" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
        fi
    } | sha256sum | cut -c1-16
}

add_files() {  # add_files SRCDIR: copy the fork's own files (runtime-patch/files/) into the tree
    local src=$1 f files
    [[ -d $patchdir/files ]] || return 0
    mapfile -t -d '' files < <(cd "$patchdir/files" && find . -type f -printf '%P\0')
    for f in "${files[@]}"; do
        [[ ! -e $src/$f && ! -L $src/$f ]] \
            || die "runtime-patch/files/$f is in the CPython $CPYTHON_VERSION tarball already; change CPython's file with a patch, do not replace it"
    done
    cp -R "$patchdir/files/." "$src/" || die "could not copy runtime-patch/files/ into $src"
}

apply_series() {  # apply_series SRCDIR: apply runtime-patch/series in order
    local src=$1 p
    [[ -f $patchdir/series ]] || die "missing $patchdir/series"
    while read -r p; do
        [[ -z $p || $p == \#* ]] && continue
        [[ -f $patchdir/patches/$p ]] || die "series names $p, which is not in runtime-patch/patches/"
        patch -d "$src" -p1 --quiet --forward --no-backup-if-mismatch < "$patchdir/patches/$p" \
            || die "patch $p does not apply to CPython $CPYTHON_VERSION"
    done < "$patchdir/series"
}

build_one() {  # build_one VARIANT DEST: extract, patch, configure, make, install
    local variant=$1 dest=$2 work=$2.work
    rm -rf "$work"; mkdir -p "$work"
    tar -xf "$tarball" -C "$work"
    local src=$work/Python-$CPYTHON_VERSION extra=()
    if [[ $variant == tricolor* ]]; then
        add_files "$src"
        apply_series "$src"
        # The core, as a static library of position-independent code, with
        # its headers; linked with TBB and the C++ runtime.
        mkdir -p "$dest/tricolor"
        local san=()
        [[ $variant == *-tsan ]] && san=(-DTRICOLOR_SANITIZE=thread)
        (cmake -S "$TRICOLOR_ROOT" -B "$work/core" -DCMAKE_BUILD_TYPE=Release \
               -DTRICOLOR_RUNTIME_TESTS=OFF "${san[@]}" > "$work/core.log" 2>&1 &&
         cmake --build "$work/core" --target tricolor_embed -j"$jobs" >> "$work/core.log" 2>&1) \
            || { echo "building the core failed, see $work/core.log" > "$work/status"; return 1; }
        cp "$work/core/libtricolor_embed.a" "$dest/tricolor/"
        cp -r "$TRICOLOR_ROOT/include" "$dest/tricolor/"
        extra=("CPPFLAGS=-I$dest/tricolor/include"
               "LIBS=$dest/tricolor/libtricolor_embed.a -ltbb -lstdc++")
    fi
    mkdir -p "$work/build"
    (
        cd "$work/build"
        # shellcheck disable=SC2046  # flags_of prints words without spaces
        "$src/configure" --prefix="$dest" $(flags_of "$variant") "${extra[@]}" > "$work/configure.log" 2>&1 \
            || { echo "configure failed, see $work/configure.log"; exit 1; }
        # A ThreadSanitizer build runs its own interpreter while it builds:
        # with CPython's suppressions, and reports do not fail the build
        # (scripts/test-tsan-fork.sh is the check).
        [[ $variant == *-tsan ]] &&
            export TSAN_OPTIONS="exitcode=0 suppressions=$src/Tools/tsan/suppressions_free_threading.txt"
        make -j"$jobs" > "$work/make.log" 2>&1 || { echo "make failed, see $work/make.log"; exit 1; }
        make install > "$work/install.log" 2>&1 || { echo "make install failed, see $work/install.log"; exit 1; }
    ) > "$work/status" 2>&1 || return 1
    # (A ThreadSanitizer build reports the marker's by-design racy reads
    # here; the check is about the GIL, test-tsan-fork.sh about races.)
    local quiet=()
    [[ $variant == *-tsan ]] && quiet=(env TSAN_OPTIONS=report_bugs=0)
    "${quiet[@]}" "$dest/bin/$(exe_of "$variant")" -c 'import sys; assert not sys._is_gil_enabled()' \
        || { echo "the installed interpreter has the GIL enabled" > "$work/status"; return 1; }
    # CPython's own list of the races it knows of in the free-threaded
    # build, for the ThreadSanitizer runs (scripts/test-tsan-fork.sh).
    if [[ $variant == *-tsan ]]; then
        cp "$src/Tools/tsan/suppressions_free_threading.txt" "$dest/tsan-suppressions.txt"
    fi
    rm -rf "$work"
    touch "$dest/.complete"
}

progress() {  # progress VARIANT DEST PID: one line every 20 s while a build runs
    local variant=$1 work=$2.work pid=$3 start=$SECONDS step
    while kill -0 "$pid" 2>/dev/null; do
        sleep 20
        kill -0 "$pid" 2>/dev/null || break
        if [[ -f $work/install.log ]]; then step="make install"
        elif [[ -f $work/make.log ]]; then step="make, $(grep -c -- ' -o ' "$work/make.log" || true) of about 430 files compiled"
        else step="configure"; fi
        log "$variant: $step, $(( (SECONDS - start) / 60 ))m$(( (SECONDS - start) % 60 ))s"
    done
}

variants=(stock tricolor)
[[ -n $only ]] && variants=("$only")
mkdir -p "$TRICOLOR_ROOT/build/bin" "$TRICOLOR_CACHE/cpython"
pids=() dests=()
for v in "${variants[@]}"; do
    dest=$TRICOLOR_CACHE/cpython/$v-$(key_of "$v")
    dests+=("$dest")
    if [[ -f $dest/.complete ]]; then
        log "$v: cached build $dest"
        continue
    fi
    rm -rf "$dest"
    log "$v: building CPython $CPYTHON_VERSION ($(flags_of "$v")) into $dest"
    build_one "$v" "$dest" & pids+=($!)
    progress "$v" "$dest" "$!" &
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
wait
for i in "${!variants[@]}"; do
    v=${variants[$i]} dest=${dests[$i]}
    if [[ ! -f $dest/.complete ]]; then
        log "$v: build failed: $(cat "$dest.work/status" 2>/dev/null)"
        failed=1
        continue
    fi
    exe=$(exe_of "$v")
    ln -sfn "$dest/bin/$exe" "$TRICOLOR_ROOT/build/bin/$exe-${v%-debug}"
    ln -sfn "$dest" "$TRICOLOR_ROOT/build/cpython-$v"
    log "$v: build/bin/$exe-${v%-debug} -> $dest/bin/$exe"
done
((failed == 0)) || die "CPython build failed"
