#!/usr/bin/env bash
# Runs the linux-arm64 prebuilt where it runs: on an arm64 Node from Debian, under qemu-user,
# on this x86-64 machine. What it runs:
#   1. the C-level CRC32C test (every vector, prefix, offset, split point and long buffer, for
#      the table and armv8-crc levels), cross-built with zig (native/test/build.sh);
#   2. with the arm64 Node: the whole unit suite and the parity suite from out/ (npm run build
#      first; test/qemu/tests.txt says which files are left out and why) against
#      prebuilds/linux-arm64/*.node, which node-gyp-build picks (PREBUILDS_ONLY=1 keeps it off
#      the x86-64 build/Release), with KAFKA_TURBO_BACKEND=native so that the producer and
#      KafkaJS tests run on the addon or fail. The files are shared out between QEMU_JOBS
#      emulated Node processes (default: one per core), longest first by the times in
#      tests.txt; each process runs its files one after the other (test/qemu/one-process.cjs:
#      an emulated Node takes seconds to start, more on a loaded machine, so not one per file).
#      Each file's result is printed as it ends; the TAP of each process is kept in
#      .cache/qemu-logs/ and printed in full when that process failed.
#
# The arm64 root (Debian stable's nodejs and libstdc++6, unpacked with mmdebstrap, no chroot)
# is made once in .cache/roots/arm64. The kernel runs arm64 binaries through qemu by binfmt_misc
# (registered here from qemu-user-static's own entry) so that Node's child processes, which
# the loader, CLI, CRC32C level and crash tests spawn, run under qemu too; QEMU_LD_PREFIX
# points them at the root's loader and libraries. Root only (mmdebstrap, binfmt_misc).
#
#   bash test/qemu/run.sh [FILE...]   FILE: paths under out/test to run instead of the list
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ARM_ROOT="$ROOT/.cache/roots/arm64"
log() { printf '[qemu] %s\n' "$*"; }
die() { printf '[qemu] error: %s\n' "$*" >&2; exit 1; }

files=("$@")

prebuilt="$ROOT/prebuilds/linux-arm64/kafka-turbo.napi.glibc.node"
[[ -f "$prebuilt" ]] || die "no $prebuilt: run bash scripts/prebuild-zig.sh linux-arm64-gnu"
[[ -d "$ROOT/out/test" ]] || die "no out/test: run npm run build"

# shellcheck source=debian.sh
source "$ROOT/test/qemu/debian.sh"
need_packages qemu-user-static mmdebstrap

# ---- the arm64 root ----------------------------------------------------------------------------
if [[ ! -x "$ARM_ROOT/usr/bin/node" ]]; then
  debian_root arm64 nodejs,libstdc++6 "$ARM_ROOT" "arm64 root (nodejs, libstdc++6)"
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
cd "$ROOT"
# shellcheck source=files.sh
source "$ROOT/test/qemu/files.sh"
if ((${#files[@]})); then
  listed=""
  for f in "${files[@]}"; do listed+="30 $f"$'\n'; done
else
  listed="$(test_files qemu)"
fi
# The native backend must be the one under test: a fallback would pass the same tests.
# KAFKA_TURBO_BACKEND=native makes every default choice of the loader (the producer and
# KafkaJS tests take it) the addon or an error; each process prints what it picked.
export KAFKA_TURBO_BACKEND=native PREBUILDS_ONLY=1 KAFKA_TURBO_REQUIRE_PREBUILT=1
"$node_arm" -e '
    const b = require("./out/ts/backend/load.js").backendInfo();
    if (b.backend !== "native" || b.crc32c !== "armv8-crc") { console.error(b); process.exit(1); }
    console.log("[qemu] backendInfo(): native, crc32c " + b.crc32c);'

# The files, longest first, each to the emulated Node with the least work so far (qemu-user
# runs a process on one host thread at a time, more or less: one per core keeps both busy).
jobs="${QEMU_JOBS:-$(nproc)}"
((jobs >= 1)) || die "QEMU_JOBS must be 1 or more"
mapfile -t shards < <(sort -rn -k1,1 <<<"$listed" | awk -v n="$jobs" '
  NF { best = 0; for (i = 1; i < n; i++) if (load[i] < load[best]) best = i
       load[best] += $1; files[best] = files[best] " " $2 }
  END { for (i = 0; i < n; i++) if (files[i] != "") print files[i] }')
logs="$ROOT/.cache/qemu-logs"
rm -rf "$logs" && mkdir -p "$logs"
log "node tests under qemu: $(grep -c . <<<"$listed") files in ${#shards[@]} emulated Node processes (test/qemu/one-process.cjs); TAP in ${logs#"$ROOT"/}/"
start=$SECONDS
pids=()
for i in "${!shards[@]}"; do
  # Each file's result as it ends (the whole TAP goes to the log). A read loop, not awk:
  # Debian's mawk buffers what it reads from a pipe, so nothing showed until the end.
  # shellcheck disable=SC2086 # the file list is split on purpose
  "$node_arm" "$ROOT/test/qemu/one-process.cjs" ${shards[$i]} 2>&1 | tee "$logs/$i.tap" | {
    result=""
    while IFS= read -r line; do
      case "$line" in
        '# backendInfo'*) log "process $i: ${line#\# }" ;;
        'ok '*' - file '* | 'not ok '*' - file '*) result="$line" ;;
        '  duration_ms: '*) [[ -z "$result" ]] || { log "process $i: $result: $(printf '%.0f' "${line#*: }e-3") s"; result=""; } ;;
      esac
    done
  } &
  pids+=($!)
done
failed=()
for i in "${!pids[@]}"; do wait "${pids[$i]}" || failed+=("$i"); done
for i in "${!shards[@]}"; do
  # Each process must have run on the arm64 addon (the line one-process.cjs prints first).
  grep -q '^# backendInfo(): native, crc32c armv8-crc, .*, arm64, glibc$' "$logs/$i.tap" || { log "process $i: not on the arm64 addon"; failed+=("$i"); }
done
summary="$(cat "$logs"/*.tap | awk '/^# (tests|pass|fail|cancelled|skipped|todo) [0-9]+$/ { n[$2] += $3 }
  END { printf "%d tests, %d passed, %d failed, %d cancelled, %d skipped, %d todo", n["tests"], n["pass"], n["fail"], n["cancelled"], n["skipped"], n["todo"] }')"
if ((${#failed[@]})); then
  for i in $(printf '%s\n' "${failed[@]}" | sort -u); do
    log "process $i failed; its TAP (${logs#"$ROOT"/}/$i.tap):"
    cat "$logs/$i.tap"
  done
  die "node tests failed: $summary, in $((SECONDS - start)) s (load average $(cut -d' ' -f1-3 /proc/loadavg))"
fi
log "node tests passed: $summary, in $((SECONDS - start)) s (load average $(cut -d' ' -f1-3 /proc/loadavg))"
