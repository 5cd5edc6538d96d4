#!/bin/sh
# install_test.sh - install the library into a scratch prefix and build the
# tutorial and the Boltzmann-generator example (bg_quartic.c) outside the tree
# against the installed copy, through pkg-config alone, and run them.
#
#   sh tests/install_test.sh MAKE BUILD MODULES CC "EXTRA_LDFLAGS" [REAL]
#
# REAL is double (the default: libbg.a, libbg.pc, include/libbg) or float
# (libbg_f32.a, libbg-f32.pc, include/libbg-f32).
# EXTRA_LDFLAGS carries what the library itself was built with that a
# program linking it must repeat (the sanitizer flags under `make sanitize`).
# Exits 0 on success, 1 with one line on stderr otherwise.
set -u
make_cmd=${1:-make}
build=${2:-build}
modules=${3:-autodiff}
cc=${4:-cc}
extra=${5:-}
real=${6:-double}
case $real in
double) lib=libbg.a; pc=libbg ;;
float) lib=libbg_f32.a; pc=libbg-f32 ;;
*) echo "install test: REAL must be double or float" >&2; exit 1 ;;
esac

fail() { echo "install test: $*" >&2; rm -rf "$tmp"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/libbg-install.XXXXXX") || { echo "install test: mktemp failed" >&2; exit 1; }
prefix="$tmp/prefix"

$make_cmd --no-print-directory -s install BUILD="$build" MODULES="$modules" REAL="$real" PREFIX="$prefix" \
    > "$tmp/install.log" 2>&1 || { cat "$tmp/install.log" >&2; fail "make install failed"; }

for f in "$prefix/lib/$lib" "$prefix/lib/pkgconfig/$pc.pc" \
         "$prefix/include/$pc/autodiff/ad.h"; do
    [ -f "$f" ] || fail "missing $f"
done
[ ! -e "$prefix/include/$pc/autodiff/ad_impl.h" ] || fail "a private header was installed"

# Outside the tree: the source is copied next to nothing else, so only the
# installed headers can satisfy its includes.
mkdir -p "$tmp/src" && cp docs/examples/tutorial.c "$tmp/src/" || fail "cannot copy the tutorial"
flags=$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs $pc) \
    || fail "pkg-config does not know $pc"
(cd "$tmp/src" && $cc -std=c11 tutorial.c $flags $extra -o tutorial) > "$tmp/cc.log" 2>&1 \
    || { cat "$tmp/cc.log" >&2; fail "the tutorial does not build against the installed copy"; }
"$tmp/src/tutorial" > "$tmp/run.log" 2>&1 || { cat "$tmp/run.log" >&2; fail "the installed tutorial failed"; }
grep -q "dloss/dx = {4, 8, 12}" "$tmp/run.log" || fail "unexpected tutorial output"

# The Boltzmann-generator example needs every library folder.
case " $modules " in
*" flows "*)
    cp docs/examples/bg_quartic.c "$tmp/src/" || fail "cannot copy bg_quartic.c"
    (cd "$tmp/src" && $cc -std=c11 -O2 bg_quartic.c $flags $extra -o bg_quartic) \
        > "$tmp/cc.log" 2>&1 \
        || { cat "$tmp/cc.log" >&2; fail "bg_quartic.c does not build against the installed copy"; }
    "$tmp/src/bg_quartic" > "$tmp/run.log" 2>&1 \
        || { cat "$tmp/run.log" >&2; fail "the installed bg_quartic failed"; }
    grep -q "agree within 3 SE" "$tmp/run.log" || fail "unexpected bg_quartic output"
    sed 's/^/install test: /' "$tmp/run.log"
    ;;
esac

rm -rf "$tmp"
echo "install test: ok ($cc, pkg-config $pc)"
