#!/usr/bin/env bash
# Installs everything the build and the tests need, idempotently:
#   - Debian packages: kcat (independent reader in tests), openssl (the TLS tests' certificates), the C/C++ toolchain and the
#     native libraries the addon links against, clang-16 with libFuzzer (scripts/fuzz.sh), librdkafka-dev (mock cluster for fault tests),
#     Java 17 + Maven (only if missing) for the real Kafka broker;
#   - npm dependencies (npm ci from package-lock.json);
#   - the build (npm run build);
#   - the Apache Kafka jars (mvn, cached under .cache/kafka/<version>/lib).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[install] %s\n' "$*"; }

APT_PACKAGES=(
  kcat
  openssl
  build-essential
  python3
  pkg-config
  librdkafka-dev
  liburing-dev
  zlib1g-dev
  liblz4-dev
  libzstd-dev
  libsnappy-dev
  # scripts/fuzz.sh: clang with libFuzzer (its runtime is its own package) and llvm-symbolizer
  # for readable crash reports.
  clang-16
  libclang-rt-16-dev
  llvm-16
)
command -v java >/dev/null 2>&1 || APT_PACKAGES+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || APT_PACKAGES+=(maven)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  # The status is read whole (no `| grep -q` under pipefail: see scripts/deb-src.sh).
  if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != *'install ok installed'* ]]; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  log "apt-get install: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  log "Debian packages already installed"
fi

# node-gyp needs Node's headers to build the addon. They ship with Node under
# <prefix>/include/node; point node-gyp there so it never tries to download them.
node_prefix="$(dirname "$(dirname "$(command -v node)")")"
if [[ -z "${npm_config_nodedir:-}" && -f "$node_prefix/include/node/node_api.h" ]]; then
  export npm_config_nodedir="$node_prefix"
  log "node-gyp will use Node's headers from $node_prefix/include/node"
fi

if [[ -f package-lock.json && -f node_modules/.package-lock.json \
      && node_modules/.package-lock.json -nt package-lock.json \
      && node_modules/.package-lock.json -nt package.json ]]; then
  log "node_modules up to date with package-lock.json"
elif [[ -f package-lock.json ]]; then
  log "npm ci"
  npm ci --no-audit --no-fund
else
  log "npm install (no package-lock.json)"
  npm install --no-audit --no-fund
fi

# npm ci runs the package's install script (node-gyp-build: a prebuilt binary, else a local
# build). When npm ci was skipped, make sure the addon exists all the same.
if [[ ! -f build/Release/kafka_turbo.node ]]; then
  log "building the native addon (npm run build:native)"
  npm run build:native
fi

log "npm run build"
npm run build

log "fetching Apache Kafka jars"
node test/helpers/kafka/cluster.cjs fetch

log "done"
