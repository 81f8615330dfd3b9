#!/usr/bin/env bash
# Builds the C-level CRC32C test and bench, and the core (record batch + accumulator) test,
# with g++ alone (no node-gyp, no Node headers), each SIMD file with the same flags
# binding.gyp gives it:
#   native/test/build.sh                 -> native/build/c/{crc32c_test,crc32c_bench,core_test}
#   SANITIZE=1 native/test/build.sh      -> native/build/c-asan/... with ASan + UBSan
#   TSAN=1 native/test/build.sh          -> native/build/c-tsan/... with ThreadSanitizer (the
#                                           compression pool)
#   TUNING=1 native/test/build.sh        -> the bench also measures other AVX-512 splits
#   ARCH=aarch64 CXX='zig c++ -target aarch64-linux-gnu' CRC32C_ONLY=1 native/test/build.sh
#                                        -> native/build/c-aarch64/{crc32c_test,crc32c_bench},
#                                           cross-compiled (test/qemu/run.sh runs them under
#                                           qemu-aarch64); CRC32C_ONLY skips core_test, which
#                                           links the host's codec libraries
#   ... LINK='zig cc -target ...' CXX_RUNTIME=1 -> the two CRC32C programs compiled with CXX but
#                                           linked with LINK plus native/src/runtime/cxx_runtime.cc,
#                                           so no C++ library is linked (as the prebuilt addon;
#                                           zig would build its libc++ for the target first)
# Then run native/build/c/crc32c_test and native/build/c/crc32c_bench.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
src="$root/native/src/crc32c"
cxx="${CXX:-g++}"
flags=(-std=c++17 -O3 -Wall -Wextra -fno-exceptions -pthread)
arch="${ARCH:-$(uname -m)}"
out="$root/native/build/c"
[[ "$arch" == "$(uname -m)" ]] || out="$root/native/build/c-$arch"
if [[ "${SANITIZE:-0}" == 1 ]]; then
  flags+=(-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  out="$root/native/build/c-asan"
fi
if [[ "${TSAN:-0}" == 1 ]]; then
  flags+=(-O1 -g -fsanitize=thread -fno-omit-frame-pointer)
  out="$root/native/build/c-tsan"
fi
if [[ "${TUNING:-0}" == 1 ]]; then flags+=(-DKAFKA_TURBO_CRC32C_TUNING); fi
mkdir -p "$out"
objs=("$out/dispatch.o" "$out/portable.o")
"$cxx" "${flags[@]}" -c "$src/portable.cc" -o "$out/portable.o"
case "$arch" in
  x86_64 | amd64)
    flags+=(-DKAFKA_TURBO_CRC32C_X86)
    "$cxx" "${flags[@]}" -msse4.2 -mpclmul -c "$src/sse42.cc" -o "$out/sse42.o"
    "$cxx" "${flags[@]}" -mavx512f -mavx512vl -mavx512bw -mvpclmulqdq -mpclmul \
      -c "$src/avx512.cc" -o "$out/avx512.o"
    objs+=("$out/sse42.o" "$out/avx512.o")
    ;;
  aarch64 | arm64)
    flags+=(-DKAFKA_TURBO_CRC32C_ARM64)
    "$cxx" "${flags[@]}" -mcpu=generic+crc+crypto -c "$src/armv8.cc" -o "$out/armv8.o"
    objs+=("$out/armv8.o")
    ;;
esac
"$cxx" "${flags[@]}" -c "$src/dispatch.cc" -o "$out/dispatch.o"
if [[ -n "${LINK:-}" ]]; then
  if [[ "${CXX_RUNTIME:-0}" == 1 ]]; then
    "$cxx" "${flags[@]}" -fno-rtti -c "$root/native/src/runtime/cxx_runtime.cc" -o "$out/cxx_runtime.o"
    objs+=("$out/cxx_runtime.o")
  fi
  for prog in test/crc32c_test bench/crc32c_bench; do
    "$cxx" "${flags[@]}" -c "$root/native/$prog.cc" -o "$out/${prog#*/}.o"
    # shellcheck disable=SC2086  # LINK is a command with its arguments
    $LINK -pthread "$out/${prog#*/}.o" "${objs[@]}" -o "$out/${prog#*/}"
  done
else
  "$cxx" "${flags[@]}" "$root/native/test/crc32c_test.cc" "${objs[@]}" -o "$out/crc32c_test"
  "$cxx" "${flags[@]}" "$root/native/bench/crc32c_bench.cc" "${objs[@]}" -o "$out/crc32c_bench"
fi
if [[ "${CRC32C_ONLY:-0}" == 1 ]]; then
  echo "built $out/crc32c_test $out/crc32c_bench"
  exit 0
fi
# The record-batch encoder and accumulator core (plain C++, uses the CRC32C objects above).
core="$root/native/src/core"
compress_src="$root/native/src/compress"
"$cxx" "${flags[@]}" -pthread "$root/native/test/core_test.cc" "$core/record_batch.cc" "$core/accumulator.cc" \
  "$core/compress_worker.cc" "$compress_src/gzip.cc" "$compress_src/lz4.cc" "$compress_src/snappy.cc" \
  "$compress_src/zstd.cc" "${objs[@]}" -o "$out/core_test" -lz -llz4 -lzstd -lsnappy
echo "built $out/crc32c_test $out/crc32c_bench $out/core_test"
# The io_uring transport core (Linux, Debian's liburing-dev; linked statically as in the addon).
if [[ "$(uname -s)" == Linux && -f /usr/include/liburing.h ]]; then
  "$cxx" "${flags[@]}" "$root/native/test/ring_test.cc" "$root/native/src/io/ring.cc" -o "$out/ring_test" -l:liburing.a
  echo "built $out/ring_test"
fi
