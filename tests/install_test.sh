#!/bin/sh
# install_test.sh - install the library into a scratch prefix and build the
# tutorial, the Boltzmann-generator example (bg_quartic.c) and a user's own
# 2-D experiment on the installed kit (exp2d_hat.c) outside the tree against
# the installed copy, through pkg-config alone, and run them.
#
#   sh tests/install_test.sh MAKE BUILD MODULES CC "EXTRA_LDFLAGS" [REAL]
#
# REAL is double (the default: libbg.a, libbg.pc, include/libbg, and the kit's
# libbg-apps.a, libbg-apps.pc) or float (libbg_f32.a, libbg-f32.pc,
# include/libbg-f32, libbg-apps-f32.a, libbg-apps-f32.pc).
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
double) lib=libbg.a; pc=libbg; kit=bg-apps ;;
float) lib=libbg_f32.a; pc=libbg-f32; kit=bg-apps-f32 ;;
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

# The 2-D experiment kit and the output toolkit are installed with apps/, in
# their own archive (lib$kit.a, pkg-config lib$kit).
case " $modules " in
*" apps "*)
    for f in "$prefix/include/$pc/apps/exp2d/exp2d.h" "$prefix/include/$pc/apps/toolkit/app_svg.h"; do
        [ -f "$f" ] || fail "missing $f"
    done
    [ ! -e "$prefix/include/$pc/apps/exp2d/exp2d_impl.h" ] || fail "a private header was installed"
    [ -f "$prefix/lib/lib$kit.a" ] || fail "missing $prefix/lib/lib$kit.a"
    cp docs/examples/exp2d_hat.c "$tmp/src/" || fail "cannot copy exp2d_hat.c"
    kit_flags=$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs lib$kit) \
        || fail "pkg-config does not know lib$kit"
    (cd "$tmp/src" && $cc -std=c11 -O2 exp2d_hat.c $kit_flags $extra -o bg-hat) > "$tmp/cc.log" 2>&1 \
        || { cat "$tmp/cc.log" >&2; fail "exp2d_hat.c does not build against the installed copy"; }
    "$tmp/src/bg-hat" --quick --out "$tmp/out" > "$tmp/run.log" 2>&1 \
        || { cat "$tmp/run.log" >&2; fail "the installed bg-hat failed"; }
    grep -q "dF(right-left) .*(exact 0.558)" "$tmp/run.log" || fail "unexpected bg-hat output"
    for f in summary.json report.md mc_data.csv profiles.svg manifest.json model_ml_kl_rc.ckpt; do
        [ -s "$tmp/out/$f" ] || fail "bg-hat did not write $f"
    done
    echo "install test: bg-hat --quick wrote $(ls "$tmp/out" | wc -l) files"
    ;;
esac

rm -rf "$tmp"
echo "install test: ok ($cc, pkg-config $pc)"
