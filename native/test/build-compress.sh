#!/usr/bin/env bash
# Builds the C-level compression test and bench with g++ alone (no node-gyp, no Node headers),
# linking the system's zlib, liblz4, libzstd and libsnappy (Debian: zlib1g-dev liblz4-dev
# libzstd-dev libsnappy-dev):
#   native/test/build-compress.sh              -> native/build/c/{compress_test,compress_bench}
#   SANITIZE=1 native/test/build-compress.sh   -> native/build/c-asan/... with ASan + UBSan
# Then run native/build/c/compress_test (it ends with "N passed, N failed") and
# native/build/c/compress_bench. test/unit/compression/codecs.test.ts runs this script when
# the test binary is missing, then uses it to cross-check the TypeScript codecs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
src="$root/native/src/compress"
cxx="${CXX:-g++}"
flags=(-std=c++17 -O2 -Wall -Wextra -fno-exceptions -pthread)
out="$root/native/build/c"
if [[ "${SANITIZE:-0}" == 1 ]]; then
  flags+=(-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  out="$root/native/build/c-asan"
fi
libs=(-lz -llz4 -lzstd -lsnappy)
mkdir -p "$out"
objs=()
for codec in gzip snappy lz4 zstd; do
  "$cxx" "${flags[@]}" -c "$src/$codec.cc" -o "$out/compress_$codec.o"
  objs+=("$out/compress_$codec.o")
done
"$cxx" "${flags[@]}" "$root/native/test/compress_test.cc" "${objs[@]}" "${libs[@]}" -o "$out/compress_test"
built="$out/compress_test"
if [[ -f "$root/native/bench/compress_bench.cc" ]]; then
  "$cxx" "${flags[@]}" "$root/native/bench/compress_bench.cc" "${objs[@]}" "${libs[@]}" -o "$out/compress_bench"
  built+=" $out/compress_bench"
fi
echo "built $built"
