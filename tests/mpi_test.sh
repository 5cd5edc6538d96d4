#!/bin/sh
# mpi_test.sh - the MPI build under mpirun (the last part of `make MPI=1 test`).
#
#   sh tests/mpi_test.sh MAKE BUILD REAL SERIAL_BUILD [quick]
#
# 1. the distribution layer's check (build/bin/dist-check) on 1 to 4 ranks,
#    and ranks out of step: the calls return the failure, and a program's
#    handler then ends the job instead of hanging;
# 2. the programs under mpirun -np 2, 3 and 4 (more ranks than cores:
#    --oversubscribe) write the same files and summary.json numbers as the
#    serial build (SERIAL_BUILD, built here if needed), timings aside: the
#    dimer --quick (also with --grad-blocks 4, data-parallel training, with
#    three batches of annealing chains, and at three temperatures with the
#    spline coupling), the double well by
#    default, --quick, and --quick at three temperatures with --grad-blocks
#    4, and the Mueller-Brown potential --quick (also with the spline);
# 3. a run killed after a checkpoint resumes with another number of ranks
#    (the dimer also at three temperatures, reusing each one's data);
# 4. a failure on rank 1 ends every rank with one message and exit code 1,
#    never a hang (BG_DIST_FAULT, autodiff/ad_dist.h): non-finite losses,
#    an unreadable file, memory running out.
# With "quick" as the fifth argument only the identities the MPI issue's
# targets name run (what CI checks): the dimer --quick (with two batches of
# annealing chains: one per rank on 2 ranks, rows shared on 4) and the
# default double well, each on 2 ranks and on 4 oversubscribed.  Exits 0 when everything holds, 1 otherwise.
set -u
make_cmd=${1:-make}
build=${2:-build-mpi}
real=${3:-double}
serial=${4:-build}
only_quick=${5:-}
bin=$build/bin
sbin=$serial/bin

# Open MPI refuses to run as root unless told
if [ "$(id -u)" = 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
mpirun_n() { n=$1; shift; timeout 600 mpirun --oversubscribe -np "$n" "$@"; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/libbg-mpi.XXXXXX") || { echo "mpi test: mktemp failed" >&2; exit 1; }
failed=0
fail() { echo "mpi test: FAILED: $*" >&2; failed=1; }
ok() { echo "mpi test: $*"; }

$make_cmd --no-print-directory -s MPI=0 REAL="$real" BUILD="$serial" programs > "$tmp/serial.log" 2>&1 \
    || { cat "$tmp/serial.log" >&2; echo "mpi test: the serial programs do not build" >&2; exit 1; }

# same NAME DIR_A DIR_B: the two runs hold the same results
same() {
    if "$bin/same-run" "$2" "$3" > "$tmp/same.log" 2>&1; then
        ok "$1: the same files and numbers"
    else
        head -20 "$tmp/same.log" >&2
        fail "$1: the runs differ"
    fi
}

# serial NAME PROG ARGS...: the serial build's run into $tmp/NAME
serial() {
    name=$1; prog=$2; shift 2
    "$sbin/$prog" "$@" --out "$tmp/$name" > "$tmp/$name.log" 2>&1 \
        || { cat "$tmp/$name.log" >&2; fail "$name: the serial run failed"; }
}

# ranks N NAME PROG ARGS...: the MPI build's run on N ranks into $tmp/NAME
ranks() {
    n=$1; name=$2; prog=$3; shift 3
    mpirun_n "$n" "$bin/$prog" "$@" --out "$tmp/$name" > "$tmp/$name.log" 2>&1 \
        || { cat "$tmp/$name.log" >&2; fail "$name: the run on $n ranks failed"; }
}

# across NAME "N..." PROG ARGS...: the serial run into $tmp/NAME, the MPI
# build's on each N ranks into $tmp/NAME<N>, and each compared with it
across() {
    a_name=$1; a_counts=$2; a_prog=$3; shift 3
    a_label="$a_prog ${*:-(default run)}"
    serial "$a_name" "$a_prog" "$@"
    for a_n in $a_counts; do
        ranks "$a_n" "$a_name$a_n" "$a_prog" "$@"
        same "$a_label, $a_n ranks" "$tmp/$a_name" "$tmp/$a_name$a_n"
    done
}

if [ "$only_quick" = quick ]; then
    across dimer "2 4" bg-dimer --quick --ais-chains 400
    across dwd "2 4" bg-doublewell
    rm -rf "$tmp"
    [ $failed = 0 ] && echo "mpi test: ok (quick)"
    exit $failed
fi

# ---- 1. the layer ----
for n in 1 2 3 4; do
    mpirun_n $n "$bin/dist-check" > "$tmp/check.log" 2>&1 \
        && ok "$(cat "$tmp/check.log")" \
        || { cat "$tmp/check.log" >&2; fail "dist-check on $n ranks"; }
done
mpirun_n 2 "$bin/dist-check" desync > "$tmp/desync.log" 2>&1
code=$?
if [ $code = 3 ]; then
    ok "ranks out of step return the failure, then end the job (exit $code)"
else
    cat "$tmp/desync.log" >&2
    fail "ranks out of step: exit $code (3 wanted; 0: not detected, 124: hung)"
fi

# ---- 2. the same numbers for any number of ranks ----
across dimer "2 4" bg-dimer --quick
# 2 ranks: two blocks each; 3: one, one and two; 4: one each (summed in place)
across dimer_g4_ "2 3 4" bg-dimer --quick --grad-blocks 4
# three batches of annealing chains: whole batches per rank on 2 and 3
# ranks, rows of every batch shared on 4
across dimer_a "2 3 4" bg-dimer --quick --ais-chains 600
temps="--temperatures 0.8,1,1.2 --coupling spline"
across dimer_t "2 4" bg-dimer --quick $temps
across dwd "2 4" bg-doublewell
across dw "2 3" bg-doublewell --quick
across dw_tg4_ 3 bg-doublewell --quick --temperatures 0.7,1,1.5 --grad-blocks 4
across mb 2 bg-mullerbrown --quick
across mb_s 2 bg-mullerbrown --quick --coupling spline

# ---- 3. --resume with another number of ranks ----
BG_STOP_AFTER=ckpt/stage-stage2.ckpt mpirun_n 2 "$bin/bg-dimer" --quick --out "$tmp/dimer_kill" \
    > "$tmp/kill.log" 2>&1
[ -f "$tmp/dimer_kill/ckpt/stage-stage2.ckpt" ] && [ ! -f "$tmp/dimer_kill/summary.json" ] \
    || fail "the run on 2 ranks was not stopped after stage 2"
ranks 3 dimer_kill bg-dimer --quick --resume
grep -q "resuming after stage 2" "$tmp/dimer_kill.log" || fail "--resume on 3 ranks did not resume"
same "bg-dimer --quick stopped on 2 ranks, resumed on 3" "$tmp/dimer" "$tmp/dimer_kill"
BG_STOP_AFTER=ckpt/stage-stage2.ckpt mpirun_n 2 "$bin/bg-dimer" --quick $temps \
    --out "$tmp/dimer_t_kill" > "$tmp/kill.log" 2>&1
[ -f "$tmp/dimer_t_kill/ckpt/stage-stage2.ckpt" ] && [ ! -f "$tmp/dimer_t_kill/summary.json" ] \
    || fail "the run at three temperatures on 2 ranks was not stopped after stage 2"
ranks 3 dimer_t_kill bg-dimer --quick $temps --resume
grep -q "reusing the MC data and the umbrella reference at kT = 1.2" "$tmp/dimer_t_kill.log" \
    || fail "--resume on 3 ranks did not reuse the data of kT = 1.2"
same "bg-dimer --quick $temps stopped on 2 ranks, resumed on 3" "$tmp/dimer_t" \
    "$tmp/dimer_t_kill"
BG_STOP_AFTER=loss_kl.csv mpirun_n 3 "$bin/bg-doublewell" --quick --out "$tmp/dw_kill" \
    > "$tmp/kill.log" 2>&1
ranks 1 dw_kill bg-doublewell --quick --resume
same "bg-doublewell --quick stopped on 3 ranks, resumed on 1" "$tmp/dw" "$tmp/dw_kill"

# ---- 4. a failure on rank 1 ends every rank ----
# expect NAME WANT CMD...: exit 1 within the time limit, WANT in the output once
expect_failure() {
    name=$1; want=$2; shift 2
    "$@" > "$tmp/fault.log" 2>&1
    code=$?
    count=$(grep -c -- "$want" "$tmp/fault.log")
    if [ $code = 1 ] && [ "$count" = 1 ]; then
        ok "$name: every rank ends, exit 1, one message"
    else
        cat "$tmp/fault.log" >&2
        fail "$name: exit $code (124: hung), '$want' printed $count times"
    fi
}
expect_failure "non-finite losses on rank 1" "non-finite losses or gradients in a row" \
    env BG_DIST_FAULT=nan-loss@1 timeout 600 mpirun --oversubscribe -np 2 \
    "$bin/bg-doublewell" --quick --out "$tmp/fault_nan"
expect_failure "non-finite losses on rank 1, --grad-blocks 2" "non-finite losses or gradients" \
    env BG_DIST_FAULT=nan-loss@1 timeout 600 mpirun --oversubscribe -np 2 \
    "$bin/bg-dimer" --quick --grad-blocks 2 --out "$tmp/fault_nan2"
expect_failure "an unreadable file on rank 1" "cannot open: Input/output error" \
    env BG_DIST_FAULT=read@1 timeout 600 mpirun --oversubscribe -np 2 \
    "$bin/bg-dimer" --quick --out "$tmp/dimer" --resume
for n in 50 3000; do
    expect_failure "memory running out on rank 1 after $n allocations" "out of memory" \
        env BG_DIST_FAULT=alloc@1 BG_DIST_FAULT_ALLOC=$n timeout 600 mpirun --oversubscribe \
        -np 2 "$bin/bg-dimer" --quick --out "$tmp/fault_alloc$n"
done

rm -rf "$tmp"
if [ $failed = 0 ]; then echo "mpi test: ok"; else echo "mpi test: FAILED" >&2; fi
exit $failed
