#!/bin/sh
# run_suites.sh - the test runner's suites in parallel processes.
#
#   sh tests/run_suites.sh JOBS CMD...
#
# CMD runs the test runner (build/bin/run-tests), possibly behind a wrapper
# (valgrind ...).  With JOBS = 1 it runs once, as it is.  With more, every
# suite runs in a process of its own (BG_TEST_SUITE, tests/test_main.c),
# JOBS at a time: the suites named in BG_TEST_FIRST (suite functions; by
# default the three that take longest: the GEMM sizes, resuming the
# programs, the dimer program) start first, then the rest from the last of
# the list to the first (the suites that start the programs come last in
# it).  Each suite's report is printed as it ends, then the totals and the
# suites that failed.  The tests make their scratch files per process, so
# suites do not collide.
# Exits 0 when every suite passed, 1 otherwise, 2 on a bad JOBS.
set -u
jobs=${1:-}
case $jobs in
    '' | *[!0-9]* | 0) echo "run_suites: JOBS must be a positive number, not '$jobs'" >&2; exit 2 ;;
esac
shift
[ "$jobs" -gt 1 ] || exec "$@"

first=${BG_TEST_FIRST-ad_gemm_suite reliability_resume_suite apps_dimer_suite}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/libbg-suites.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
BG_TEST_LIST=1 "$@" > "$tmp/list" 2>/dev/null
n=$(wc -l < "$tmp/list" | tr -d ' ')
case $n in
    '' | 0 | *[!0-9]*) echo "run_suites: cannot list the suites of: $*" >&2; exit 1 ;;
esac

{
    for f in $first; do
        awk -v f="$f" '$2 == f { print $1 }' "$tmp/list"
    done
    sort -rn "$tmp/list" | while read -r i name; do
        case " $first " in *" $name "*) ;; *) echo "$i" ;; esac
    done
} | xargs -P "$jobs" -I{} sh -c '
    i=$1 d=$2
    shift 2
    BG_TEST_SUITE=$i "$@" > "$d/$i.log" 2>&1
    echo $? > "$d/$i.rc"
    cat "$d/$i.log"' sh {} "$tmp" "$@"

checks=0 failures=0 errors=0 failed=""
i=0
while [ $i -lt "$n" ]; do
    rc=$(cat "$tmp/$i.rc" 2>/dev/null || echo none)
    name=$(sed -n 's/^Running suite(s): *//p' "$tmp/$i.log" 2>/dev/null | head -n 1)
    [ "$rc" = 0 ] || failed="$failed ${name:-#$i}(exit $rc)"
    counts=$(grep -o 'Checks: [0-9]*, Failures: [0-9]*, Errors: [0-9]*' "$tmp/$i.log" 2>/dev/null |
             tail -n 1 | tr -cs '0-9' ' ')
    set -- $counts 0 0 0
    checks=$((checks + $1)) failures=$((failures + $2)) errors=$((errors + $3))
    i=$((i + 1))
done
echo "all $n suites ($jobs at a time): Checks: $checks, Failures: $failures, Errors: $errors"
if [ -n "$failed" ]; then
    echo "failed:$failed" >&2
    exit 1
fi
exit 0
