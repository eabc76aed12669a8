#!/usr/bin/env bash
# The native GPU tests under compute-sanitizer memcheck, on a build of native/
# (ctest's programs in BUILD_DIR). Every program runs with CUDA API errors
# reported (compute-sanitizer's default) and must end with 0 errors, except:
#   - test_capture_legacy_cuda: the library learns that the legacy stream may
#     not be used during another stream's capture only from a CUDA call that
#     fails on purpose (common/capture.cu), so that program runs with
#     --report-api-errors no; memory errors still fail it. Nothing else is in
#     it, so no other API error can hide there.
#   - test_large_cuda and test_long_row_cuda are left out: tens of GB and 2^26
#     keys take many minutes under memcheck (their index arithmetic is what
#     the plain run checks against the float64 reference).
# The prefill matrix runs once more with the Hopper kernel forced, as ctest's
# test_prefill_gpu_hopper does (program:hopper: its 128-row tiles;
# program:hopper_short: its short-row tiles at head_dim 64 / 128;
# program:hopper_short_wide: those with their alternative key count). Logs go to
# $OUT (default /tmp/memcheck-out). SANITIZER_TOOL=racecheck (or synccheck,
# initcheck) runs that tool instead of memcheck.
#   native/tests/run_memcheck.sh BUILD_DIR [program[:hopper|:hopper_short|:hopper_short_wide|:hopper_wide|:hopper_persistent] ...]
set -uo pipefail
build="${1:?usage: run_memcheck.sh BUILD_DIR [program ...]}"
shift
out="${OUT:-/tmp/memcheck-out}"
mkdir -p "$out"
programs=("$@")
if [ "${#programs[@]}" -eq 0 ]; then
    programs=(test_prefill_gpu test_prefill_gpu:hopper test_prefill_gpu:hopper_short test_prefill_gpu_tiles
              test_prefill_variants_gpu
              test_decode_cuda test_decode_paged_cuda test_merge_states_cuda test_overflow_cuda
              test_capture_cuda test_capture_legacy_cuda)
fi
tool="${SANITIZER_TOOL:-memcheck}"
failed=0
for entry in "${programs[@]}"; do
    program="${entry%%:*}"
    env_args=()
    case "$entry" in
        *:hopper) env_args=(PADDEDATTN_PREFILL_HOPPER=1 PADDEDATTN_PREFILL_HOPPER_SHORT=0) ;;
        *:hopper_short) env_args=(PADDEDATTN_PREFILL_HOPPER=1 PADDEDATTN_PREFILL_HOPPER_SHORT=1) ;;
        *:hopper_short_wide) env_args=(PADDEDATTN_PREFILL_HOPPER=1 PADDEDATTN_PREFILL_HOPPER_SHORT=2) ;;
        *:hopper_wide) env_args=(PADDEDATTN_PREFILL_HOPPER=1 PADDEDATTN_PREFILL_HOPPER_SHORT=0 PADDEDATTN_PREFILL_HOPPER_WIDE=1) ;;
        *:hopper_persistent) env_args=(PADDEDATTN_PREFILL_HOPPER=1 PADDEDATTN_PREFILL_HOPPER_SHORT=1
                                       PADDEDATTN_PREFILL_HOPPER_PERSISTENT=1) ;;
    esac
    api_args=()
    [ "$program" = test_capture_legacy_cuda ] && api_args=(--report-api-errors no)
    log="$out/${entry//:/_}.$tool.log"
    env "${env_args[@]}" compute-sanitizer --tool "$tool" --error-exitcode 3 "${api_args[@]}" \
        "$build/$program" > "$log" 2>&1
    rc=$?
    summary="$(grep -E "ERROR SUMMARY" "$log" | tail -1)"
    # 77: skipped (no GPU); anything else but 0 fails.
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then failed=$((failed + 1)); fi
    printf '%-28s rc %-3d %s\n' "$entry" "$rc" "${summary:-no summary}"
done
echo "$tool: $failed program(s) failed"
[ "$failed" -eq 0 ]
