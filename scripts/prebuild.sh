#!/usr/bin/env bash
# Builds the portable prebuilt addon that ships in the npm package:
#   prebuilds/<platform>-<arch>/kafka-turbo.napi.glibc.node
# with lz4, zstd and snappy linked in statically, so users need none of them installed.
# Linux (glibc, Debian-like) only. Run as root or with sudo (it may install Debian packages,
# add a deb-src entry and run apt-get update: scripts/deb-src.sh). `npm run build:prebuilt` runs it.
#
#   1. Fetches Debian's source packages of zstd and snappy (the versions whose -dev headers are
#      installed, so headers and archives agree) into .cache/prebuild/src and builds them
#      as -fPIC static archives into .cache/prebuild/lib: Debian's libzstd.a and libsnappy.a
#      are not position-independent and do not link into a shared object. Debian's liblz4.a
#      is, and is copied there as it is. A second run reuses all of it.
#   2. Builds the addon from a copy of binding.gyp + native/src (what the npm package ships)
#      in .cache/prebuild/tree, with binding.gyp's kt_static_codecs / kt_static_dir
#      variables, so the developer build in build/ is left alone.
#   3. Strips it into prebuilds/ under a name node-gyp-build matches on any Node version with
#      Node-API ("napi") and only on glibc ("glibc"; musl users build from source instead).
#   4. Checks it: ldd shows no liblz4/libzstd/libsnappy, it loads, and crc32c works.
#
# zlib is not linked: gzip uses the zlib symbols Node exports to addons. libstdc++ and glibc
# stay dynamic (every glibc Linux has them); the script prints the newest GLIBC_/GLIBCXX_
# symbol versions the binary needs.
#
# Environment: PREBUILD_JOBS (parallel make jobs, default: nproc).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache/prebuild"
SRC="$CACHE/src"
LIB="$CACHE/lib"
TREE="$CACHE/tree"
JOBS="${PREBUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}"

log() { printf '[prebuild] %s\n' "$*"; }
die() { printf '[prebuild] error: %s\n' "$*" >&2; exit 1; }

[[ "$(uname -s)" == Linux ]] || die "only Linux is supported (this is $(uname -s))"
command -v apt-get >/dev/null 2>&1 || die "needs apt-get (Debian or a derivative)"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

# ---- tools and headers -------------------------------------------------------------------------
need=()
for p in build-essential dpkg-dev cmake python3 liblz4-dev libzstd-dev libsnappy-dev; do
  [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" == *'install ok installed'* ]] || need+=("$p")
done
if ((${#need[@]})); then
  log "apt-get install: ${need[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# ---- deb-src entries ---------------------------------------------------------------------------
# apt-get source needs deb-src lines; scripts/deb-src.sh adds them when there are none.
bash "$ROOT/scripts/deb-src.sh"

# ---- sources -----------------------------------------------------------------------------------
# fetch_source DEV_PACKAGE (scripts/prebuild-common.sh): the unpacked Debian source of the
# library and the version fetched.
# shellcheck source=prebuild-common.sh
source "$ROOT/scripts/prebuild-common.sh"

# pic_check ARCHIVE [LIBS...]: the archive links whole into a shared object.
pic_check() {
  local a="$1"; shift
  local so
  so="$(mktemp --suffix=.so)"
  if ! gcc -shared -o "$so" -Wl,--whole-archive "$a" -Wl,--no-whole-archive "$@" 2>"$so.log"; then
    cat "$so.log" >&2
    rm -f "$so" "$so.log"
    die "$a does not link into a shared object (not position-independent?)"
  fi
  rm -f "$so" "$so.log"
}

mkdir -p "$LIB"

# zstd
zstd_src="$(fetch_source libzstd-dev)"
IFS=$'\t' read -r zstd_dir zstd_ver <<<"$zstd_src"
zstd_stamp="zstd $zstd_ver -O3 -fPIC"
if [[ -f "$LIB/libzstd.a" && "$(cat "$LIB/.libzstd.stamp" 2>/dev/null)" == "$zstd_stamp" ]]; then
  log "libzstd.a: cached ($zstd_stamp)"
else
  log "building libzstd.a ($zstd_stamp)"
  make -s -C "$zstd_dir/lib" clean >/dev/null
  make -s -C "$zstd_dir/lib" -j"$JOBS" libzstd.a CFLAGS='-O3 -fPIC' >/dev/null
  install -m 0644 "$zstd_dir/lib/libzstd.a" "$LIB/libzstd.a"
  printf '%s' "$zstd_stamp" >"$LIB/.libzstd.stamp"
fi

# snappy (C++)
snappy_src="$(fetch_source libsnappy-dev)"
IFS=$'\t' read -r snappy_dir snappy_ver <<<"$snappy_src"
snappy_stamp="snappy $snappy_ver Release PIC"
if [[ -f "$LIB/libsnappy.a" && "$(cat "$LIB/.libsnappy.stamp" 2>/dev/null)" == "$snappy_stamp" ]]; then
  log "libsnappy.a: cached ($snappy_stamp)"
else
  log "building libsnappy.a ($snappy_stamp)"
  rm -rf "$snappy_dir/build-pic"
  cmake -S "$snappy_dir" -B "$snappy_dir/build-pic" -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
    -DSNAPPY_BUILD_TESTS=OFF -DSNAPPY_BUILD_BENCHMARKS=OFF -Wno-dev >/dev/null
  cmake --build "$snappy_dir/build-pic" --target snappy -j "$JOBS" >/dev/null
  install -m 0644 "$snappy_dir/build-pic/libsnappy.a" "$LIB/libsnappy.a"
  printf '%s' "$snappy_stamp" >"$LIB/.libsnappy.stamp"
fi

# lz4: Debian's archive is position-independent already.
lz4_a="$(gcc -print-file-name=liblz4.a)"
[[ -f "$lz4_a" ]] || die "liblz4.a not found (liblz4-dev installed?)"
if ! cmp -s "$lz4_a" "$LIB/liblz4.a"; then install -m 0644 "$lz4_a" "$LIB/liblz4.a"; fi

pic_check "$LIB/liblz4.a"
pic_check "$LIB/libzstd.a"
pic_check "$LIB/libsnappy.a" -lstdc++

# ---- the addon ---------------------------------------------------------------------------------
# node-gyp needs Node's headers; use the ones installed with Node (as scripts/install.sh does).
node_prefix="$(dirname "$(dirname "$(command -v node)")")"
if [[ -z "${npm_config_nodedir:-}" && -f "$node_prefix/include/node/node_api.h" ]]; then
  export npm_config_nodedir="$node_prefix"
fi
NODE_GYP="$ROOT/node_modules/.bin/node-gyp"
[[ -x "$NODE_GYP" ]] || die "node_modules/.bin/node-gyp missing: run npm ci (or scripts/install.sh) first"

log "building the addon in ${TREE#"$ROOT"/} (kt_static_codecs=1)"
rm -rf "$TREE"
mkdir -p "$TREE/native"
cp "$ROOT/binding.gyp" "$TREE/"
cp -a "$ROOT/native/src" "$TREE/native/src"
# node_modules (node-addon-api) resolves from $TREE upwards, i.e. $ROOT/node_modules.
(cd "$TREE" && "$NODE_GYP" rebuild --jobs="$JOBS" --kt_static_codecs=1 --kt_static_dir="$LIB" >build.log 2>&1) || {
  tail -n 60 "$TREE/build.log" >&2
  die "node-gyp rebuild failed (full log: $TREE/build.log)"
}
built="$TREE/build/Release/kafka_turbo.node"
[[ -f "$built" ]] || die "node-gyp produced no $built"

tuple="$(node -p 'process.platform + "-" + process.arch')"
OUT_DIR="$ROOT/prebuilds/$tuple"
OUT="$OUT_DIR/kafka-turbo.napi.glibc.node"
mkdir -p "$OUT_DIR"
find "$OUT_DIR" -maxdepth 1 -name '*.node' -delete
strip --strip-unneeded -o "$OUT" "$built"

# ---- checks ------------------------------------------------------------------------------------
deps="$(ldd "$OUT")"
if grep -Eq 'liblz4|libzstd|libsnappy' <<<"$deps"; then
  printf '%s\n' "$deps" >&2
  die "$OUT still depends on a shared codec library"
fi
node -e '
  const m = require(process.argv[1]);
  for (const f of ["crc32c", "createAccumulator", "encodeRecordBatch"]) {
    if (typeof m[f] !== "function") throw new Error("missing export " + f);
  }
  const c = m.crc32c(Buffer.from("123456789"));
  if (c !== 0xe3069283) throw new Error("crc32c(\"123456789\") = " + c.toString(16));
' "$OUT" || die "$OUT does not load or misbehaves"

glibc="$(objdump -T "$OUT" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n1)"
glibcxx="$(objdump -T "$OUT" | grep -o 'GLIBCXX_[0-9.]*' | sort -uV | tail -n1)"
log "ldd:"
sed 's/^/[prebuild]   /' <<<"$deps"
log "wrote ${OUT#"$ROOT"/}: $(stat -c %s "$OUT") bytes (unstripped $(stat -c %s "$built")); needs ${glibc:-GLIBC ?} ${glibcxx:+and $glibcxx}"
