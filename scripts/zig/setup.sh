#!/usr/bin/env bash
# Puts zig (the C/C++ cross compiler the prebuilt binaries are built with) in .cache/zig and
# prints the path of its executable. zig comes from the PyPI package `ziglang` (a wheel that
# carries the compiler, clang, libc++ and the headers and stubs of every glibc version and
# of musl), fetched with `pip download` into the project's cache: nothing is installed
# system-wide and a second run is offline. Pinned, so every machine builds with the same
# compiler; change ZIG_VERSION here to move.
set -euo pipefail
ZIG_VERSION=0.17.1
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dir="$root/.cache/zig/$ZIG_VERSION"
zig="$dir/ziglang/zig"
if [[ ! -x "$zig" ]]; then
  dl="$(mktemp -d)"
  trap 'rm -rf "$dl"' EXIT
  printf '[zig] pip download ziglang==%s\n' "$ZIG_VERSION" >&2
  # --platform: the wheel for this machine's arch whatever the local Python is built for.
  python3 -m pip download --quiet --no-deps --only-binary=:all: \
    --platform "manylinux_2_12_$(uname -m)" --platform "manylinux2014_$(uname -m)" \
    -d "$dl" "ziglang==$ZIG_VERSION" >&2
  rm -rf "$dir.tmp"
  mkdir -p "$dir.tmp"
  python3 -m zipfile -e "$dl"/ziglang-*.whl "$dir.tmp"
  chmod +x "$dir.tmp/ziglang/zig"   # zip entries lose their mode bits
  rm -rf "$dir"
  mv "$dir.tmp" "$dir"
fi
"$zig" version >/dev/null
printf '%s\n' "$zig"
