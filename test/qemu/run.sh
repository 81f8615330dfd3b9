#!/usr/bin/env bash
# Runs the linux-arm64 prebuilt where it runs: on an arm64 Node from Debian, under qemu-user,
# on this x86-64 machine. What it runs:
#   1. the C-level CRC32C test (every vector, prefix, offset, split point and long buffer, for
#      the table and armv8-crc levels), cross-built with zig (native/test/build.sh);
#   2. with the arm64 Node: test files from out/ (npm run build first) against
#      prebuilds/linux-arm64/*.node, which node-gyp-build picks (PREBUILDS_ONLY=1 keeps it off
#      the x86-64 build/Release). By default the files in test/qemu/addon-tests.txt (the parity
#      suite and the backend unit tests that exercise the addon; it says what is left out and
#      why), all in one emulated Node (test/qemu/one-process.cjs: an emulated Node takes
#      seconds to start, more on a loaded machine); --all-unit runs every unit test, a Node
#      per file (slow).
#
# The arm64 root (Debian stable's nodejs and libstdc++6, unpacked with mmdebstrap, no chroot)
# is made once in .cache/roots/arm64. The kernel runs arm64 binaries through qemu by binfmt_misc
# (registered here from qemu-user-static's own entry) so that Node's child processes, which
# the test runner and the CRC32C level tests spawn, run under qemu too; QEMU_LD_PREFIX points
# them at the root's loader and libraries. Root only (mmdebstrap, binfmt_misc).
#
#   bash test/qemu/run.sh [--all-unit] [FILTER...]   FILTER: paths under out/test to run instead
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ARM_ROOT="$ROOT/.cache/roots/arm64"
log() { printf '[qemu] %s\n' "$*"; }
die() { printf '[qemu] error: %s\n' "$*" >&2; exit 1; }

all_unit=0
files=()
for a in "$@"; do
  case "$a" in
    --all-unit) all_unit=1 ;;
    *) files+=("$a") ;;
  esac
done

prebuilt="$ROOT/prebuilds/linux-arm64/kafka-turbo.napi.glibc.node"
[[ -f "$prebuilt" ]] || die "no $prebuilt: run bash scripts/prebuild-zig.sh linux-arm64-gnu"
[[ -d "$ROOT/out/test" ]] || die "no out/test: run npm run build"

need=()
for p in qemu-user-static mmdebstrap; do
  [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" == *'install ok installed'* ]] || need+=("$p")
done
if ((${#need[@]})); then
  log "apt-get install: ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# ---- the arm64 root ----------------------------------------------------------------------------
if [[ ! -x "$ARM_ROOT/usr/bin/node" ]]; then
  # The archive this machine's apt uses (deb822 or one-line sources).
  mirror="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
  [[ -n "$mirror" ]] || mirror="$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)"
  [[ -n "$mirror" ]] || die "no Debian archive found in the apt sources"
  log "mmdebstrap arm64 root (nodejs, libstdc++6) into ${ARM_ROOT#"$ROOT"/}"
  rm -rf "$ARM_ROOT"
  # mmdebstrap resolves the target with realpath: its parent must exist (a fresh clone has no .cache/roots).
  mkdir -p "$(dirname "$ARM_ROOT")"
  mmdebstrap --quiet --arch=arm64 --variant=extract --include=nodejs,libstdc++6 stable "$ARM_ROOT" "$mirror"
fi
# The extract variant makes no merged-/usr links; the loader is looked up in /lib.
for d in lib bin sbin; do [[ -e "$ARM_ROOT/$d" ]] || ln -sfn "usr/$d" "$ARM_ROOT/$d"; done
export QEMU_LD_PREFIX="$ARM_ROOT"

# ---- binfmt_misc -------------------------------------------------------------------------------
binfmt=/proc/sys/fs/binfmt_misc
[[ -f "$binfmt/register" ]] || mount -t binfmt_misc binfmt_misc "$binfmt"
if [[ ! -e "$binfmt/qemu-aarch64" ]]; then
  conf=/usr/lib/binfmt.d/qemu-aarch64.conf
  [[ -f "$conf" ]] || die "no $conf (qemu-user-static)"
  cat "$conf" >"$binfmt/register"
fi
node_arm="$ARM_ROOT/usr/bin/node"
"$node_arm" -e 'if (process.arch !== "arm64") process.exit(1)' || die "the arm64 Node does not run"
log "arm64 Node $("$node_arm" --version) under $(qemu-aarch64-static --version | head -n1)"

# ---- 1. the C CRC32C test ----------------------------------------------------------------------
KT_ZIG="$(bash "$ROOT/scripts/zig/setup.sh")"
export KT_ZIG KT_ZIG_TARGET=aarch64-linux-gnu.2.17 ZIG_GLOBAL_CACHE_DIR="$ROOT/.cache/prebuild/zig/global"
# Linked with zig cc and the addon's own C++ runtime file, as the prebuilt is: no libc++ build.
ARCH=aarch64 CXX="$ROOT/scripts/zig/c++" LINK="$ROOT/scripts/zig/cc" CXX_RUNTIME=1 CRC32C_ONLY=1 \
  bash "$ROOT/native/test/build.sh" >/dev/null
log "C CRC32C test (native/test/crc32c_test.cc) under qemu-aarch64"
"$ROOT/native/build/c-aarch64/crc32c_test"

# ---- 2. Node tests on the prebuilt -------------------------------------------------------------
if ((${#files[@]} == 0)); then
  if ((all_unit)); then
    mapfile -t files < <(cd "$ROOT" && find out/test/unit out/test/parity -name '*.test.js' | sort)
  else
    mapfile -t files < <(grep -v '^\s*\(#\|$\)' "$ROOT/test/qemu/addon-tests.txt")
  fi
fi
log "node --test under qemu: ${#files[@]} files"
cd "$ROOT"
# The native backend must be the one under test: a fallback would pass the same tests.
KAFKA_TURBO_BACKEND=native PREBUILDS_ONLY=1 "$node_arm" -e '
    const b = require("./out/ts/backend/load.js").backendInfo();
    if (b.backend !== "native" || b.crc32c !== "armv8-crc") { console.error(b); process.exit(1); }
    console.log("[qemu] backendInfo(): native, crc32c " + b.crc32c);'
start=$SECONDS
if ((all_unit)); then
  PREBUILDS_ONLY=1 KAFKA_TURBO_REQUIRE_PREBUILT=1 "$node_arm" --test --test-concurrency=2 "${files[@]}"
else
  PREBUILDS_ONLY=1 KAFKA_TURBO_REQUIRE_PREBUILT=1 "$node_arm" "$ROOT/test/qemu/one-process.cjs" "${files[@]}"
fi
log "node tests passed in $((SECONDS - start)) s (load average $(cut -d' ' -f1-3 /proc/loadavg))"
