#!/usr/bin/env bash
# Builds the C-level compression test and bench with g++ alone (no node-gyp, no Node headers),
# linking the system's zlib, liblz4, libzstd and libsnappy (Debian: zlib1g-dev liblz4-dev
# libzstd-dev libsnappy-dev):
#   native/test/build-compress.sh              -> native/build/c/{compress_test,compress_bench}
#                                                 (+ compress_bench.node when Node's headers are
#                                                 found; NODE_INCLUDE=dir names them)
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
  # The same bench as a Node-API module on the libraries the addon uses: Node's zlib (its
  # headers, and its exported symbols at load time: no -lz), the shared lz4, zstd and snappy.
  # Skipped under SANITIZE (an ASan module does not load into Node) or without Node's headers.
  node_inc="${NODE_INCLUDE:-}"
  if [[ -z "$node_inc" ]] && command -v node >/dev/null; then
    for d in "$(dirname "$(dirname "$(command -v node)")")/include/node" \
             "$HOME/.cache/node-gyp/$(node -p 'process.versions.node')/include/node"; do
      if [[ -f "$d/node_api.h" && -f "$d/zlib.h" ]]; then node_inc="$d"; break; fi
    done
  fi
  if [[ "${SANITIZE:-0}" != 1 && -n "$node_inc" ]]; then
    mkdir -p "$out/node"
    nobjs=()
    for codec in gzip snappy lz4 zstd; do
      "$cxx" "${flags[@]}" -fPIC -I"$node_inc" -c "$src/$codec.cc" -o "$out/node/compress_$codec.o"
      nobjs+=("$out/node/compress_$codec.o")
    done
    "$cxx" "${flags[@]}" -fPIC -shared -DKAFKA_TURBO_BENCH_NODE -I"$node_inc" \
      "$root/native/bench/compress_bench.cc" "${nobjs[@]}" -llz4 -lzstd -lsnappy \
      -o "$out/compress_bench.node"
    built+=" $out/compress_bench.node"
  fi
fi
echo "built $built"
