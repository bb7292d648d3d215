#!/usr/bin/env bash
# Fuzzes every parser of untrusted bytes with libFuzzer + AddressSanitizer
# (Sources/DLFuzzTargets; seeds in Fuzz/corpus/TARGET). Prints executions,
# coverage and findings per target; exits 1 when any target found something.
#
#   scripts/fuzz.sh                      # each target FUZZ_SECONDS (default 600) s
#   FUZZ_SECONDS=20 scripts/fuzz.sh      # the smoke run of `make test`
#   FUZZ_TARGETS="image v2-infer" scripts/fuzz.sh
#
# Each target runs with 2 GB of RSS, 1 GB per allocation and 10 s per input
# (beyond them: an oom- or timeout- finding), leak detection on. The growing
# corpus is kept in var/fuzz/corpus/TARGET, findings in var/fuzz/findings/TARGET
# (replay one: .build/debug/dlserve-fuzz TARGET FILE, or the fuzz binary with the file).
# Targets run FUZZ_JOBS (default 2) at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
SECONDS_PER_TARGET=${FUZZ_SECONDS:-600}
JOBS=${FUZZ_JOBS:-2}
BUILD=.build-fuzz
CONFIG=debug

# With both sanitizers SwiftPM's flags leave the Swift modules without coverage counters
# (libFuzzer then warns "no interesting inputs were found"): ask for them explicitly.
swift build -c "$CONFIG" --product dlserve-fuzz --sanitize=fuzzer --sanitize=address -Xswiftc -DFUZZING \
    -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp --build-path "$BUILD" 2>&1 \
    | grep -E "error|warning: .*DLFuzz|Compiling dlserve_fuzz|Build" || true
BIN="$BUILD/$CONFIG/dlserve-fuzz"
[ -x "$BIN" ] || { echo "fuzz build failed" >&2; exit 2; }
TARGETS=${FUZZ_TARGETS:-$(DLSERVE_FUZZ_TARGET=list "$BIN")}

run_target() {
    local t=$1
    local work=var/fuzz/corpus/$t findings=var/fuzz/findings/$t log=var/fuzz/logs/$t.log
    mkdir -p "$work" "$findings" var/fuzz/logs
    DLSERVE_FUZZ_TARGET=$t SWIFT_BACKTRACE=enable=no \
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
    LSAN_OPTIONS=suppressions=$PWD/scripts/sanitize/lsan.supp \
        "$BIN" -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 \
        -max_len=65536 ${FUZZ_SEED:+-seed=$FUZZ_SEED} -print_final_stats=1 -artifact_prefix="$findings/" "$work" "Fuzz/corpus/$t" > "$log" 2>&1 || true
}

export -f run_target
export BIN SECONDS_PER_TARGET FUZZ_SEED
printf '%s\n' $TARGETS | xargs -P "$JOBS" -I{} bash -c 'run_target {}'

status=0
printf '%-16s %12s %9s %7s %6s %s\n' target executions "exec/s" cov corpus findings
for t in $TARGETS; do
    log=var/fuzz/logs/$t.log
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo 0)
    corpus=$(ls "var/fuzz/corpus/$t" | wc -l)
    found=$(ls "var/fuzz/findings/$t" 2>/dev/null | wc -l)
    if [ -z "$execs" ] || [ "$execs" = 0 ]; then found="$found (did not run: see $log)"; status=1; fi
    if grep -q "no interesting inputs were found" "$log"; then found="$found (blind: no coverage counters; see $log)"; status=1; fi
    [ "${found%% *}" != 0 ] && status=1
    printf '%-16s %12s %9s %7s %6s %s\n' "$t" "${execs:-0}" "${rate:-0}" "${cov:-0}" "$corpus" "$found"
done
if [ $status != 0 ]; then
    echo "findings (or a target that did not run): see var/fuzz/findings/ and var/fuzz/logs/" >&2
    for f in var/fuzz/findings/*/*; do [ -e "$f" ] && echo "  $f"; done
fi
exit $status
