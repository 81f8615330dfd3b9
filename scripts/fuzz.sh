#!/usr/bin/env bash
# Builds the libFuzzer targets of native/fuzz (clang, -fsanitize=fuzzer,address,undefined)
# and runs each for a bounded time: the byte-level parsers the addon runs over input from
# JavaScript or the network, fuzzed without Node.js (issue 10, item 3).
#
#   scripts/fuzz.sh [TARGET...]      build, write the seeds, fuzz each target (default: all)
#   scripts/fuzz.sh --build-only     build only (then run a target on one input to reproduce:
#                                    native/build/fuzz/packed_fuzz CRASH_FILE)
#
#   FUZZ_TIME=20       seconds per target (libFuzzer -max_total_time)
#   FUZZ_RUNS=2000000  inputs per target at most (-runs): a bound besides the time
#   CLANGXX=...        the clang++ to use (default: the newest clang++-NN found, then clang++)
#
# Targets: packed (core/packed.h: the packed-append unpacker and the scratch check, then the
# records encoded and read back), decompress (compress/*: decode of arbitrary bytes, and
# compress + decompress round trips). Output goes to native/build/fuzz/: the binaries, the
# working corpus (kept between runs, so each run starts where the last stopped), and crash
# artifacts (<target>-crash-*, -leak-*, -timeout-*).
#
# Exit status: 0 when every target ran clean; 1 when one crashed, leaked, timed out or failed
# a check (its report is printed); 3 when no clang with libFuzzer is installed
# (scripts/install.sh installs Debian's clang-16 and libclang-rt-16-dev).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/native/build/fuzz"
fuzz_time="${FUZZ_TIME:-20}"
fuzz_runs="${FUZZ_RUNS:-2000000}"
all_targets=(packed decompress)

build_only=0
targets=()
for arg in "$@"; do
  case "$arg" in
    --build-only) build_only=1 ;;
    packed | decompress) targets+=("$arg") ;;
    *)
      echo "fuzz.sh: unknown argument '$arg' (targets: ${all_targets[*]}, or --build-only)" >&2
      exit 2
      ;;
  esac
done
((${#targets[@]})) || targets=("${all_targets[@]}")

log() { printf '[fuzz] %s\n' "$*"; }

find_clang() {
  if [[ -n "${CLANGXX:-}" ]]; then
    echo "$CLANGXX"
    return
  fi
  local c
  for c in clang++-19 clang++-18 clang++-17 clang++-16 clang++-15 clang++-14 clang++; do
    if command -v "$c" >/dev/null 2>&1; then
      echo "$c"
      return
    fi
  done
}

cxx="$(find_clang)"
if [[ -z "$cxx" ]]; then
  echo "fuzz.sh: no clang++ found (Debian: apt-get install clang-16 libclang-rt-16-dev)" >&2
  exit 3
fi
mkdir -p "$out"
# libFuzzer is its own package on Debian (libclang-rt-NN-dev): a clang without it fails
# only at link time, so try it once up front and say what is missing.
probe="$out/.probe"
if ! printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' |
  "$cxx" -x c++ -fsanitize=fuzzer - -o "$probe" 2>"$probe.err"; then
  echo "fuzz.sh: $cxx cannot link libFuzzer (Debian: apt-get install libclang-rt-NN-dev for clang-NN):" >&2
  sed 's/^/  /' "$probe.err" >&2
  exit 3
fi
rm -f "$probe" "$probe.err"

# -O1 -g: fast enough to fuzz, and stack traces that name lines. UBSan findings abort
# (-fno-sanitize-recover) so libFuzzer reports them as crashes, not as log lines.
common=(-std=c++17 -O1 -g -Wall -Wextra -fno-exceptions -fno-omit-frame-pointer
  -fsanitize=address,undefined -fno-sanitize-recover=all)
# The code under test gets coverage instrumentation; only the targets link libFuzzer's main.
lib_flags=("${common[@]}" -fsanitize=fuzzer-no-link)
src="$root/native/src"
fuzz_src="$root/native/fuzz"
obj="$out/obj"
mkdir -p "$obj"

# Rebuilt when this script or one of the files it is built from (directories or files after
# the binary) is newer than the binary.
stale() {
  local bin="$1"
  shift
  [[ ! -x "$bin" ]] && return 0
  [[ -n "$(find "$@" "${BASH_SOURCE[0]}" -newer "$bin" -print -quit)" ]]
}

compile() {  # compile OUT SRC FLAGS...
  local o="$1" s="$2"
  shift 2
  "$cxx" "$@" -c "$s" -o "$o"
}

crc=()  # the CRC32C objects, set by crc_objs
crc_objs() {
  compile "$obj/crc_portable.o" "$src/crc32c/portable.cc" "${lib_flags[@]}"
  crc=("$obj/crc_portable.o")
  local defs=()
  case "$(uname -m)" in
    x86_64 | amd64)
      # The SIMD files with the flags binding.gyp gives them; the dispatch picks by CPUID.
      defs=(-DKAFKA_TURBO_CRC32C_X86)
      compile "$obj/crc_sse42.o" "$src/crc32c/sse42.cc" "${lib_flags[@]}" "${defs[@]}" -msse4.2 -mpclmul
      compile "$obj/crc_avx512.o" "$src/crc32c/avx512.cc" "${lib_flags[@]}" "${defs[@]}" \
        -mavx512f -mavx512vl -mavx512bw -mvpclmulqdq -mpclmul
      crc+=("$obj/crc_sse42.o" "$obj/crc_avx512.o")
      ;;
  esac
  compile "$obj/crc_dispatch.o" "$src/crc32c/dispatch.cc" "${lib_flags[@]}" "${defs[@]}"
  crc+=("$obj/crc_dispatch.o")
}

codec_srcs=("$src/compress/gzip.cc" "$src/compress/lz4.cc" "$src/compress/snappy.cc" "$src/compress/zstd.cc")
codec_libs=(-lz -llz4 -lzstd -lsnappy)

build() {
  if stale "$out/packed_fuzz" "$src/core/packed.h" "$src/core/packed.cc" "$src/core/record_batch.h" \
    "$src/core/record_batch.cc" "$src/core/varint.h" "$src/crc32c" "$fuzz_src/packed_fuzz.cc" \
    "$fuzz_src/packed_input.h"; then
    log "building packed_fuzz with $cxx"
    crc_objs
    "$cxx" "${common[@]}" -fsanitize=fuzzer "$fuzz_src/packed_fuzz.cc" "$src/core/packed.cc" \
      "$src/core/record_batch.cc" "${crc[@]}" -o "$out/packed_fuzz"
  fi
  if stale "$out/decompress_fuzz" "$src/compress" "$fuzz_src/decompress_fuzz.cc"; then
    log "building decompress_fuzz with $cxx"
    "$cxx" "${common[@]}" -fsanitize=fuzzer "$fuzz_src/decompress_fuzz.cc" "${codec_srcs[@]}" \
      "${codec_libs[@]}" -o "$out/decompress_fuzz"
  fi
  if stale "$out/make_seeds" "$src/compress" "$fuzz_src/make_seeds.cc" "$fuzz_src/packed_input.h"; then
    log "building make_seeds"
    "$cxx" "${common[@]}" "$fuzz_src/make_seeds.cc" "${codec_srcs[@]}" "${codec_libs[@]}" \
      -o "$out/make_seeds"
  fi
}

build
if ((build_only)); then
  log "built $out/packed_fuzz $out/decompress_fuzz $out/make_seeds"
  exit 0
fi

# Stack traces with function names and lines: the llvm-symbolizer beside the clang used.
if [[ -z "${ASAN_SYMBOLIZER_PATH:-}" ]]; then
  symbolizer="$(dirname "$(readlink -f "$(command -v "$cxx")")")/llvm-symbolizer"
  [[ -x "$symbolizer" ]] && export ASAN_SYMBOLIZER_PATH="$symbolizer"
fi
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
seeds="$out/seeds"
rm -rf "$seeds"
"$out/make_seeds" "$seeds" >/dev/null

failed=()
for t in "${targets[@]}"; do
  corpus="$out/corpus/$t"
  mkdir -p "$corpus" "$out/artifacts"
  max_len=4096
  [[ "$t" == decompress ]] && max_len=16384
  log "$t: fuzzing for at most ${fuzz_time}s / ${fuzz_runs} runs"
  # New inputs go to the first corpus directory; the seeds are read only.
  # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: a runaway allocation is a
  # finding, not a machine brought to its knees; -malloc_limit_mb: the same for one malloc.
  set +e
  "$out/${t}_fuzz" -max_total_time="$fuzz_time" -runs="$fuzz_runs" -timeout=10 \
    -rss_limit_mb=1536 -malloc_limit_mb=512 -max_len="$max_len" -print_final_stats=1 \
    -artifact_prefix="$out/artifacts/$t-" "$corpus" "$seeds/$t" >"$out/$t.log" 2>&1
  rc=$?
  set -e
  if ((rc != 0)); then
    failed+=("$t")
    log "$t: FAILED (exit $rc); report:"
    # The report is the end of the log: the sanitizer's or libFuzzer's own lines.
    grep -v '^#[0-9]' "$out/$t.log" | tail -n 60
  else
    log "$t: ok ($(grep -Eo 'stat::number_of_executed_units: [0-9]+' "$out/$t.log" | grep -Eo '[0-9]+' || echo '?') inputs, corpus $(find "$corpus" -type f | wc -l) files)"
  fi
done
if ((${#failed[@]})); then
  log "failed: ${failed[*]} (logs in $out/<target>.log, inputs in $out/artifacts)"
  exit 1
fi
log "all clean: ${targets[*]}"
