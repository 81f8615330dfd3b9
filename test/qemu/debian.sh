# Sourced by test/qemu/run.sh and test/qemu/musl.sh: the Debian pieces both need. Needs `log`
# and `die` (each script's own prefix).
#
#   need_packages PKG...                  apt-get installs those of PKG that are not installed.
#   debian_root ARCH PACKAGES DIR WHAT    unpacks Debian stable's PACKAGES (comma-separated)
#                                         for ARCH into DIR with mmdebstrap (extract variant: no
#                                         chroot, no maintainer scripts), from the archive this
#                                         machine's apt uses; WHAT names it in the log.

need_packages() {
  local p need=()
  for p in "$@"; do
    [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" == *'install ok installed'* ]] || need+=("$p")
  done
  if ((${#need[@]})); then
    log "apt-get install: ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
  fi
}

debian_root() {
  local arch="$1" packages="$2" dir="$3" what="$4" mirror
  # The archive this machine's apt uses (deb822 or one-line sources).
  mirror="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
  [[ -n "$mirror" ]] || mirror="$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)"
  [[ -n "$mirror" ]] || die "no Debian archive found in the apt sources"
  log "mmdebstrap $what into ${dir#"$ROOT"/}"
  rm -rf "$dir"
  # mmdebstrap resolves the target with realpath: its parent must exist (a fresh clone has no .cache/roots).
  mkdir -p "$(dirname "$dir")"
  mmdebstrap --quiet --arch="$arch" --variant=extract --include="$packages" stable "$dir" "$mirror"
}
