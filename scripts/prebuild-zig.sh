#!/usr/bin/env bash
# Cross-builds the prebuilt addons that ship in the npm package, from this one x86-64 Debian
# machine, with zig's C/C++ compiler (scripts/zig/setup.sh fetches it from PyPI):
#
#   prebuilds/linux-x64/kafka-turbo.napi.glibc.node    x86_64-linux-gnu, glibc >= 2.17
#   prebuilds/linux-x64/kafka-turbo.napi.musl.node     x86_64-linux-musl (Alpine)
#   prebuilds/linux-arm64/kafka-turbo.napi.glibc.node  aarch64-linux-gnu, glibc >= 2.17
#
# The names are node-gyp-build's: "napi" (any Node version with Node-API 8), then the libc
# tag it compares with the running process's (glibc or musl), so one tarball carries all three
# and each machine loads its own (ARCHITECTURE.md, "Prebuilt binaries").
#
# Each binary has zstd, lz4, snappy and liburing linked in statically (built here for the
# target from Debian's source packages, -fPIC) and no C++ library at all: the C++ sources are
# compiled with `zig c++` (libc++'s headers) but linked with `zig cc`, and the few runtime
# pieces they need come from native/src/runtime/cxx_runtime.cc (binding.gyp kt_cxx_runtime=1).
# That spares building zig's libc++, libc++abi and libunwind from source for every target,
# which was most of a cold build (ARCHITECTURE.md, "Toolchain", has the numbers); nothing
# here links a C++ program with `zig c++` (check_binary fails on any undefined C++ symbol).
# The target needs only its C library: no libstdc++, no codec packages. zlib is Node's own
# (gzip.cc uses the zlib symbols Node exports to addons). glibc targets are linked against
# zig's glibc 2.17 symbol stubs, so the binary asks for nothing newer (checked below with
# objdump -T); Node 20 itself needs glibc 2.28, so 2.17 is below any system Node 20 runs on.
#
#   bash scripts/prebuild-zig.sh                 all three targets
#   bash scripts/prebuild-zig.sh linux-arm64-gnu one of linux-x64-gnu, linux-x64-musl,
#                                                linux-arm64-gnu
#
# Needs: Debian with apt-get (sources, cmake, make), python3 + pip (zig), node and node-gyp
# (node_modules). Everything built is cached in .cache/prebuild/zig/<target> and reused.
# Environment: PREBUILD_JOBS (parallel jobs, default nproc).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache/prebuild"
SRC="$CACHE/src"
JOBS="${PREBUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}"
GLIBC_FLOOR=2.17

T0=$SECONDS
log() { printf '[prebuild-zig +%ss] %s\n' "$((SECONDS - T0))" "$*"; }
die() { printf '[prebuild-zig] error: %s\n' "$*" >&2; exit 1; }

[[ "$(uname -s)" == Linux ]] || die "only Linux hosts are supported"
command -v apt-get >/dev/null 2>&1 || die "needs apt-get (Debian or a derivative)"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

# ---- targets -----------------------------------------------------------------------------------
# name -> zig target, node-gyp arch, prebuilds/ folder, libc tag in the file name
declare -A ZIG_TARGET=([linux-x64-gnu]="x86_64-linux-gnu.$GLIBC_FLOOR" [linux-x64-musl]=x86_64-linux-musl
  [linux-arm64-gnu]="aarch64-linux-gnu.$GLIBC_FLOOR")
declare -A GYP_ARCH=([linux-x64-gnu]=x64 [linux-x64-musl]=x64 [linux-arm64-gnu]=arm64)
declare -A CPU=([linux-x64-gnu]=x86_64 [linux-x64-musl]=x86_64 [linux-arm64-gnu]=aarch64)
declare -A LIBC=([linux-x64-gnu]=glibc [linux-x64-musl]=musl [linux-arm64-gnu]=glibc)
ALL_TARGETS=(linux-x64-gnu linux-x64-musl linux-arm64-gnu)
targets=("$@")
((${#targets[@]})) || targets=("${ALL_TARGETS[@]}")
for t in "${targets[@]}"; do
  [[ -n "${ZIG_TARGET[$t]:-}" ]] || die "unknown target $t (one of ${ALL_TARGETS[*]})"
done

# ---- tools, sources ----------------------------------------------------------------------------
need=()
# binutils-aarch64-linux-gnu: objdump -T for the arm64 binary (the host's objdump reads x86 only).
for p in dpkg-dev cmake make python3 liblz4-dev libzstd-dev libsnappy-dev liburing-dev \
  binutils-aarch64-linux-gnu; do
  [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" == *'install ok installed'* ]] || need+=("$p")
done
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
if ((${#need[@]})); then
  log "apt-get install: ${need[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
bash "$ROOT/scripts/deb-src.sh"
# shellcheck source=prebuild-common.sh
source "$ROOT/scripts/prebuild-common.sh"

KT_ZIG="$(bash "$ROOT/scripts/zig/setup.sh")"
export KT_ZIG
# zig's cache (the libc++ and C library stubs it builds once per target) stays in the project.
export ZIG_GLOBAL_CACHE_DIR="$CACHE/zig/global"
export ZIG_LOCAL_CACHE_DIR="$CACHE/zig/local"
ZCC="$ROOT/scripts/zig/cc"
ZCXX="$ROOT/scripts/zig/c++"
ZAR="$ROOT/scripts/zig/ar"

IFS=$'\t' read -r zstd_dir zstd_ver <<<"$(fetch_source libzstd-dev)"
IFS=$'\t' read -r lz4_dir lz4_ver <<<"$(fetch_source liblz4-dev)"
IFS=$'\t' read -r snappy_dir snappy_ver <<<"$(fetch_source libsnappy-dev)"
IFS=$'\t' read -r uring_dir uring_ver <<<"$(fetch_source liburing-dev)"

node_prefix="$(dirname "$(dirname "$(command -v node)")")"
[[ -f "$node_prefix/include/node/node_api.h" ]] || die "no Node headers in $node_prefix/include/node"
NODE_GYP="$ROOT/node_modules/.bin/node-gyp"
[[ -x "$NODE_GYP" ]] || die "node_modules/.bin/node-gyp missing: run npm ci (or scripts/install.sh) first"

# stamped NAME STAMP: true when NAME was built with exactly STAMP (then it is reused).
stamped() { [[ -f "$2.stamp" && "$(cat "$2.stamp")" == "$1" ]]; }

# ---- one target --------------------------------------------------------------------------------
build_target() {
  local t="$1"
  export KT_ZIG_TARGET="${ZIG_TARGET[$t]}"
  local dir="$CACHE/zig/$t" lib include work
  lib="$dir/lib"
  include="$lib/include"
  work="$dir/work"
  mkdir -p "$lib" "$include/liburing" "$work"
  local cflags="-O2 -fPIC -g0"

  # zstd: its Makefile, one copy of the tree per target (object dirs are not per compiler).
  local stamp="zstd $zstd_ver $KT_ZIG_TARGET $cflags"
  if stamped "$stamp" "$lib/libzstd.a"; then log "$t: libzstd.a cached"; else
    log "$t: building libzstd.a ($zstd_ver)"
    rm -rf "$work/zstd" && cp -a "$zstd_dir" "$work/zstd"
    make -s -C "$work/zstd/lib" -j"$JOBS" libzstd.a CC="$ZCC" AR="$ZAR" CFLAGS="-O3 -fPIC -g0" \
      ZSTD_LEGACY_SUPPORT=0 >/dev/null
    install -m 0644 "$work/zstd/lib/libzstd.a" "$lib/libzstd.a"
    install -m 0644 "$work/zstd/lib/zstd.h" "$work/zstd/lib/zstd_errors.h" "$work/zstd/lib/zdict.h" "$include/"
    printf '%s' "$stamp" >"$lib/libzstd.a.stamp"
  fi

  # lz4: its Makefile builds liblz4.a from lib/ (block, frame, HC, xxhash).
  stamp="lz4 $lz4_ver $KT_ZIG_TARGET $cflags"
  if stamped "$stamp" "$lib/liblz4.a"; then log "$t: liblz4.a cached"; else
    log "$t: building liblz4.a ($lz4_ver)"
    rm -rf "$work/lz4" && cp -a "$lz4_dir" "$work/lz4"
    make -s -C "$work/lz4/lib" -j"$JOBS" liblz4.a CC="$ZCC" AR="$ZAR" CFLAGS="-O3 -fPIC -g0" >/dev/null
    install -m 0644 "$work/lz4/lib/liblz4.a" "$lib/liblz4.a"
    install -m 0644 "$work/lz4/lib/lz4.h" "$work/lz4/lib/lz4hc.h" "$work/lz4/lib/lz4frame.h" "$include/"
    printf '%s' "$stamp" >"$lib/liblz4.a.stamp"
  fi

  # snappy (C++): CMake with zig as a cross compiler, no tests/benchmarks.
  stamp="snappy $snappy_ver $KT_ZIG_TARGET Release PIC"
  if stamped "$stamp" "$lib/libsnappy.a"; then log "$t: libsnappy.a cached"; else
    log "$t: building libsnappy.a ($snappy_ver)"
    rm -rf "$work/snappy-build"
    # CMAKE_TRY_COMPILE_TARGET_TYPE: cmake's compiler checks make a static library instead of
    # linking a C++ program (which would have zig build libc++ for the target).
    cmake -S "$snappy_dir" -B "$work/snappy-build" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR="${CPU[$t]}" \
      -DCMAKE_C_COMPILER="$ZCC" -DCMAKE_CXX_COMPILER="$ZCXX" -DCMAKE_AR="$ZAR" \
      -DCMAKE_RANLIB=/bin/true -DCMAKE_TRY_COMPILE_TARGET_TYPE=STATIC_LIBRARY -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
      -DSNAPPY_BUILD_TESTS=OFF -DSNAPPY_BUILD_BENCHMARKS=OFF -DSNAPPY_INSTALL=OFF -Wno-dev >"$work/snappy-cmake.log" 2>&1 ||
      { tail -n 30 "$work/snappy-cmake.log" >&2; die "$t: snappy cmake failed"; }
    cmake --build "$work/snappy-build" --target snappy -j "$JOBS" >"$work/snappy-build.log" 2>&1 ||
      { tail -n 30 "$work/snappy-build.log" >&2; die "$t: snappy build failed"; }
    install -m 0644 "$work/snappy-build/libsnappy.a" "$lib/libsnappy.a"
    install -m 0644 "$snappy_dir/snappy-c.h" "$snappy_dir/snappy.h" "$snappy_dir/snappy-sinksource.h" \
      "$work/snappy-build/snappy-stubs-public.h" "$include/"
    printf '%s' "$stamp" >"$lib/libsnappy.a.stamp"
  fi

  # liburing: its configure + src/Makefile (the static library only; no tests, no examples).
  stamp="liburing $uring_ver $KT_ZIG_TARGET $cflags"
  if stamped "$stamp" "$lib/liburing.a"; then log "$t: liburing.a cached"; else
    log "$t: building liburing.a ($uring_ver)"
    rm -rf "$work/liburing" && cp -a "$uring_dir" "$work/liburing"
    # --cxx=false: configure links a C++ program only to decide whether to build its C++
    # test; with zig c++ that would build libc++ for the target.
    (cd "$work/liburing" && ./configure --cc="$ZCC" --cxx=false >"$work/liburing-configure.log" 2>&1) ||
      { tail -n 30 "$work/liburing-configure.log" >&2; die "$t: liburing configure failed"; }
    make -s -C "$work/liburing/src" -j"$JOBS" liburing.a CC="$ZCC" AR="$ZAR" RANLIB=/bin/true \
      CFLAGS="-O3 -fPIC -g0" >"$work/liburing-build.log" 2>&1 ||
      { tail -n 30 "$work/liburing-build.log" >&2; die "$t: liburing build failed"; }
    install -m 0644 "$work/liburing/src/liburing.a" "$lib/liburing.a"
    install -m 0644 "$work/liburing/src/include/liburing.h" "$include/"
    install -m 0644 "$work/liburing/src/include/liburing"/*.h "$include/liburing/"
    printf '%s' "$stamp" >"$lib/liburing.a.stamp"
  fi

  # The addon, from a copy of what the npm package ships (binding.gyp + native/src), so the
  # developer build in build/ is left alone. node-gyp runs make with zig as CC/CXX/LINK.
  local tree="$work/tree"
  log "$t: building the addon (node-gyp --arch=${GYP_ARCH[$t]}, $KT_ZIG_TARGET)"
  rm -rf "$tree"
  mkdir -p "$tree/native"
  cp "$ROOT/binding.gyp" "$tree/"
  cp -a "$ROOT/native/src" "$tree/native/src"
  ln -s "$ROOT/node_modules" "$tree/node_modules"
  local uring=0
  [[ -d "$ROOT/native/src/io" ]] && uring=1
  # LINK is zig cc: no C++ library is linked (kt_cxx_runtime=1 compiles in what is needed).
  (cd "$tree" && CC="$ZCC" CXX="$ZCXX" LINK="$ZCC" AR="$ZAR" CC_host=cc CXX_host=c++ \
    LDFLAGS="-s" npm_config_nodedir="$node_prefix" \
    "$NODE_GYP" rebuild --arch="${GYP_ARCH[$t]}" --jobs="$JOBS" --kt_static_codecs=1 \
    --kt_static_dir="$lib" --kt_static_uring="$uring" \
    --kt_version_script="$ROOT/scripts/zig/exports.map" --kt_cxx_runtime=1 >build.log 2>&1) || {
    tail -n 40 "$tree/build.log" >&2
    die "$t: node-gyp rebuild failed (full log: $tree/build.log)"
  }
  local built="$tree/build/Release/kafka_turbo.node"
  [[ -f "$built" ]] || die "$t: node-gyp produced no $built"
  local out_dir="$ROOT/prebuilds/linux-${GYP_ARCH[$t]}"
  local out="$out_dir/kafka-turbo.napi.${LIBC[$t]}.node"
  mkdir -p "$out_dir"
  install -m 0755 "$built" "$out"
  check_binary "$t" "$out"
}

# ---- checks (what can be checked without running the binary) ------------------------------------
# Runs are in test/qemu/run.sh and test/unit/packaging; here: the ELF machine, the shared
# libraries asked for (the C library and nothing else), and the newest glibc symbol version.
check_binary() {
  local t="$1" f="$2" objdump=objdump
  [[ "${CPU[$t]}" == aarch64 ]] && objdump=aarch64-linux-gnu-objdump
  local machine needed
  machine="$(readelf -h "$f" | sed -n 's/^ *Machine: *//p')"
  needed="$(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')"
  case "${CPU[$t]}" in
    x86_64) [[ "$machine" == *X86-64* ]] || die "$f: machine $machine" ;;
    aarch64) [[ "$machine" == *AArch64* ]] || die "$f: machine $machine" ;;
  esac
  local n
  for n in $needed; do
    case "${LIBC[$t]}:$n" in
      glibc:libc.so.6 | glibc:libm.so.6 | glibc:libpthread.so.0 | glibc:libdl.so.2 | glibc:ld-linux-*) ;;
      musl:libc.so | musl:libc.musl-*.so.1) ;;
      *) die "$f asks for $n: only the C library may be needed (needs: $needed)" ;;
    esac
  done
  # Linked with no C++ library, an undefined C++ symbol would only show when Node loads the
  # file: every symbol it imports must be the C library's or Node-API's.
  local cxx_undef
  cxx_undef="$("$objdump" -T "$f" | awk '$0 ~ /\*UND\*/ {print $NF}' | grep -E '^(_Z|__cxa_|__gxx_|_Unwind_)' || true)"
  [[ -z "$cxx_undef" ]] || die "$f imports C++ runtime symbols: $(echo "$cxx_undef" | tr '\n' ' ')"
  local glibc="" floor_ok=1
  if [[ "${LIBC[$t]}" == glibc ]]; then
    glibc="$("$objdump" -T "$f" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n1)"
    [[ "$(printf '%s\n%s\n' "${glibc#GLIBC_}" "$GLIBC_FLOOR" | sort -V | tail -n1)" == "$GLIBC_FLOOR" ]] || floor_ok=0
    ((floor_ok)) || die "$f needs $glibc, above the floor $GLIBC_FLOOR"
    if "$objdump" -T "$f" | grep -q 'GLIBCXX_\|CXXABI_'; then die "$f needs libstdc++ symbols"; fi
  fi
  log "$t: wrote ${f#"$ROOT"/}: $(stat -c %s "$f") bytes, $machine, needs: $needed${glibc:+(newest symbol $glibc)}"
}

for t in "${targets[@]}"; do build_target "$t"; done
log "done: ${targets[*]}"
