#!/usr/bin/env bash
# Used by scripts/prebuild-zig.sh (the cross builds of the prebuilt binaries): fetching the
# Debian source package of a library the prebuilt binaries link in statically. Sourced, not run; the caller defines ROOT, SRC (where sources are unpacked) and
# log / die.

# fetch_source DEV_PACKAGE: prints the unpacked source dir of the source package that built
# DEV_PACKAGE and the version fetched. It asks for the installed version first (the headers the
# addon compiles against). When the archive does not serve that version's source (seen here: a
# security update installed from bookworm-security whose source files the mirror answers 404), it
# takes another Debian revision of the same upstream version — same upstream code and headers,
# only Debian's patches differ — and says so.
fetch_source() {
  local dev="$1" pkg ver upstream dir
  pkg="$(dpkg-query -W -f='${source:Package}' "$dev")"
  ver="$(dpkg-query -W -f='${source:Version}' "$dev")"
  upstream="${ver#*:}"
  upstream="${upstream%-*}"
  dir="$SRC/$pkg-$upstream"
  if [[ -d "$dir/debian" && -f "$dir/.kt-version" ]]; then
    log "source $pkg $(cat "$dir/.kt-version"): cached in ${dir#"$ROOT"/}" >&2
    printf '%s\t%s\n' "$dir" "$(cat "$dir/.kt-version")"
    return
  fi
  rm -rf "$dir"
  mkdir -p "$SRC"
  # As root, apt would warn that it cannot drop to its sandbox user for this directory.
  local sandbox=()
  if [[ $(id -u) -eq 0 ]]; then sandbox=(-o APT::Sandbox::User=root); fi
  # The installed version, then the other revisions of the same upstream version, newest first.
  local candidates=("$ver") v
  while read -r v; do
    local up="${v#*:}"
    [[ "$v" != "$ver" && "${up%-*}" == "$upstream" ]] && candidates+=("$v")
  done < <(apt-cache showsrc "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | sort -rV | uniq)
  for v in "${candidates[@]}"; do
    log "apt-get source $pkg=$v" >&2
    if (cd "$SRC" && apt-get source -qq "${sandbox[@]}" "$pkg=$v" >&2) && [[ -d "$dir/debian" ]]; then
      [[ "$v" == "$ver" ]] || log "warning: the source of $pkg $ver (installed) is not served here; built from $v, the same upstream $upstream" >&2
      printf '%s' "$v" >"$dir/.kt-version"
      printf '%s\t%s\n' "$dir" "$v"
      return
    fi
    rm -rf "$dir"
  done
  die "apt-get source $pkg failed for ${candidates[*]}; if a newer $pkg is out, upgrade $dev (apt-get install $dev) and run again"
}

