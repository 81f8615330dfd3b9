#!/usr/bin/env bash
# Builds the portable prebuilt addon that ships in the npm package:
#   prebuilds/<platform>-<arch>/kafka-turbo.napi.glibc.node
# with lz4, zstd and snappy linked in statically, so users need none of them installed.
# Linux (glibc, Debian-like) only. Run as root or with sudo (it may install Debian packages,
# add a deb-src entry and run apt-get update). `npm run build:prebuilt` runs it.
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
DEB_SRC_LIST=/etc/apt/sources.list.d/kafka-turbo-deb-src.sources

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
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if ((${#need[@]})); then
  log "apt-get install: ${need[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# ---- deb-src entries ---------------------------------------------------------------------------
# apt-get source needs deb-src lines. When there are none, mirror the Debian "deb" entries
# (those signed by the Debian archive keyring, or unsigned ones for this release) as deb-src
# in a file of our own, then apt-get update.
have_deb_src() { apt-cache showsrc libzstd-dev 2>/dev/null | grep -q '^Package: '; }
if ! have_deb_src; then
  log "no deb-src entries: writing $DEB_SRC_LIST from the existing deb entries"
  tmp="$(mktemp)"
  python3 - "$tmp" <<'PY'
import glob, os, re, sys

KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
codename = ""
try:
    for line in open("/etc/os-release"):
        if line.startswith("VERSION_CODENAME="):
            codename = line.split("=", 1)[1].strip().strip('"')
except OSError:
    pass

def wanted(signed_by, suites):
    if signed_by:
        return os.path.realpath(signed_by) == os.path.realpath(KEYRING)
    return bool(codename) and any(s.split("-")[0].split("/")[0] == codename for s in suites)

entries = []  # (uris, suites, components)
# deb822 files
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    if os.path.basename(path) == "kafka-turbo-deb-src.sources":
        continue
    text = open(path).read()
    for stanza in re.split(r"\n\s*\n", text):
        fields, key = {}, None
        for line in stanza.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line[0] in " \t" and key:
                fields[key] += " " + line.strip()
                continue
            if ":" in line:
                key, value = line.split(":", 1)
                key = key.strip().lower()
                fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        suites = fields.get("suites", "").split()
        if fields.get("uris") and suites and wanted(fields.get("signed-by", ""), suites):
            entries.append((fields["uris"].split(), suites, fields.get("components", "main").split()))
# one-line format
for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    if not os.path.exists(path):
        continue
    for line in open(path):
        line = line.split("#", 1)[0].strip()
        m = re.match(r"^deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s*(.*)$", line)
        if not m:
            continue
        opts = m.group(1) or ""
        sb = re.search(r"signed-by=(\S+?)\s*[\] ]", opts + " ")
        if wanted(sb.group(1) if sb else "", [m.group(3)]):
            entries.append(([m.group(2)], [m.group(3)], (m.group(4) or "main").split()))

if not entries:
    sys.exit("no Debian deb entries found in /etc/apt to mirror as deb-src")
with open(sys.argv[1], "w") as out:
    out.write("# Written by kafka-turbo's scripts/prebuild.sh: the Debian deb entries as deb-src,\n"
              "# for apt-get source. Safe to delete.\n")
    for uris, suites, comps in entries:
        out.write("\nTypes: deb-src\nURIs: %s\nSuites: %s\nComponents: %s\nSigned-By: %s\n"
                  % (" ".join(uris), " ".join(suites), " ".join(comps), KEYRING))
PY
  $SUDO install -m 0644 "$tmp" "$DEB_SRC_LIST"
  rm -f "$tmp"
  $SUDO apt-get update -qq
  have_deb_src || die "apt-cache showsrc libzstd-dev still finds nothing after adding $DEB_SRC_LIST"
fi

# ---- sources -----------------------------------------------------------------------------------
# fetch_source DEV_PACKAGE: prints the unpacked source dir of the source package that built
# DEV_PACKAGE, at the installed version (the headers the addon compiles against).
fetch_source() {
  local dev="$1" pkg ver upstream dir
  pkg="$(dpkg-query -W -f='${source:Package}' "$dev")"
  ver="$(dpkg-query -W -f='${source:Version}' "$dev")"
  upstream="${ver#*:}"
  upstream="${upstream%-*}"
  dir="$SRC/$pkg-$upstream"
  if [[ -d "$dir/debian" ]]; then
    log "source $pkg $ver: cached in ${dir#"$ROOT"/}" >&2
  else
    log "apt-get source $pkg=$ver" >&2
    mkdir -p "$SRC"
    # As root, apt would warn that it cannot drop to its sandbox user for this directory.
    local sandbox=()
    if [[ $(id -u) -eq 0 ]]; then sandbox=(-o APT::Sandbox::User=root); fi
    (cd "$SRC" && apt-get source -qq "${sandbox[@]}" "$pkg=$ver" >&2) ||
      die "apt-get source $pkg=$ver failed; if a newer $pkg is out, upgrade $dev (apt-get install $dev) and run again"
    [[ -d "$dir/debian" ]] || die "apt-get source $pkg=$ver did not unpack into $dir"
  fi
  printf '%s\t%s\n' "$dir" "$ver"
}

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
