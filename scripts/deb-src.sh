#!/usr/bin/env bash
# Makes sure apt knows Debian's source packages (deb-src entries), which scripts/prebuild-zig.sh
# needs for `apt-get source` of zstd and snappy. When there are none, it mirrors the Debian
# "deb" entries (those signed by the Debian archive keyring, or unsigned ones for this release)
# as deb-src in a file of its own, kafka-turbo-deb-src.sources, then runs apt-get update.
#
#   bash scripts/deb-src.sh                 the system's apt configuration (needs root or sudo)
#   bash scripts/deb-src.sh --apt-root DIR  a private apt configuration under DIR (etc/apt with
#                                           sources.list.d/, lists/, cache/), used by the
#                                           self-test; nothing outside DIR is touched
#   bash scripts/deb-src.sh --self-test     runs both paths CI must survive against a private
#                                           root: no deb-src entries at all (they get written),
#                                           then several source records per package
#   bash scripts/deb-src.sh --check         exit 0 when the entries are there, 1 when not
#
# Why the check reads all of apt-cache's output: under `set -o pipefail`, `apt-cache showsrc X
# | grep -q ...` is false whenever grep exits at its first match before apt-cache's last write
# (apt-cache then dies of SIGPIPE, exit 141), which happens when the apt lists hold more than one
# source record for X. So the check counts matches instead: grep reads to the end, the producer
# of the pipe is never cut off, and the answer does not depend on how many records there are.
set -euo pipefail

PROBE_PACKAGE=libzstd-dev
LIST_NAME=kafka-turbo-deb-src.sources

log() { printf '[deb-src] %s\n' "$*"; }
die() { printf '[deb-src] error: %s\n' "$*" >&2; exit 1; }

APT_ROOT=""
mode=ensure
while (($#)); do
  case "$1" in
    --apt-root) APT_ROOT="$2"; shift 2 ;;
    --self-test) mode=self-test; shift ;;
    --check) mode=check; shift ;;
    *) die "unknown argument $1" ;;
  esac
done

SUDO=""
if [[ $(id -u) -ne 0 && -z "$APT_ROOT" ]]; then SUDO="sudo"; fi

# apt options that point apt-cache / apt-get at APT_ROOT instead of the system's files.
apt_opts() {
  [[ -n "$APT_ROOT" ]] || return 0
  printf '%s\n' \
    -o "Dir::Etc::SourceList=$APT_ROOT/etc/apt/sources.list" \
    -o "Dir::Etc::SourceParts=$APT_ROOT/etc/apt/sources.list.d" \
    -o "Dir::State::Lists=$APT_ROOT/lists" \
    -o "Dir::Cache=$APT_ROOT/cache" \
    -o "APT::Sandbox::User=root"
}

etc_dir() { if [[ -n "$APT_ROOT" ]]; then echo "$APT_ROOT/etc/apt"; else echo /etc/apt; fi; }

# How many source records apt has for a package. Reads apt-cache's whole output (see above).
source_records() {
  local opts
  mapfile -t opts < <(apt_opts)
  { apt-cache "${opts[@]}" showsrc "$1" 2>/dev/null || true; } | grep -c '^Package: ' || true
}

have_deb_src() { (( $(source_records "$PROBE_PACKAGE") > 0 )); }

write_deb_src() {
  local etc list tmp
  etc="$(etc_dir)"
  list="$etc/sources.list.d/$LIST_NAME"
  log "no deb-src entries: writing $list from the existing deb entries"
  tmp="$(mktemp)"
  python3 - "$tmp" "$etc" "$LIST_NAME" <<'PY'
import glob, os, re, sys

out_path, etc, own = sys.argv[1], sys.argv[2], sys.argv[3]
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
for path in sorted(glob.glob(os.path.join(etc, "sources.list.d", "*.sources"))):
    if os.path.basename(path) == own:
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
for path in [os.path.join(etc, "sources.list")] + sorted(glob.glob(os.path.join(etc, "sources.list.d", "*.list"))):
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
    sys.exit("no Debian deb entries found in %s to mirror as deb-src" % etc)
with open(out_path, "w") as out:
    out.write("# Written by kafka-turbo's scripts/deb-src.sh: the Debian deb entries as deb-src,\n"
              "# for apt-get source. Safe to delete.\n")
    for uris, suites, comps in entries:
        out.write("\nTypes: deb-src\nURIs: %s\nSuites: %s\nComponents: %s\nSigned-By: %s\n"
                  % (" ".join(uris), " ".join(suites), " ".join(comps), KEYRING))
PY
  $SUDO install -m 0644 "$tmp" "$list"
  rm -f "$tmp"
  local opts
  mapfile -t opts < <(apt_opts)
  $SUDO apt-get "${opts[@]}" update -qq
}

ensure_deb_src() {
  if have_deb_src; then
    log "deb-src entries present ($(source_records "$PROBE_PACKAGE") source record(s) for $PROBE_PACKAGE)"
    return 0
  fi
  write_deb_src
  have_deb_src || die "apt-cache showsrc $PROBE_PACKAGE still finds nothing after adding $(etc_dir)/sources.list.d/$LIST_NAME"
  log "deb-src entries added ($(source_records "$PROBE_PACKAGE") source record(s) for $PROBE_PACKAGE)"
}

# Both situations CI must get through, on a private apt root (the system's is left alone):
#   1. deb entries only, no deb-src at all: the check says no, the entries get written, and the
#      check then says yes;
#   2. the same root now holds several source records for the codec packages (Debian's own
#      Sources for each suite): the check says yes (the SIGPIPE case of issue 7), and a second
#      ensure run leaves it as it is.
self_test() {
  SELF_TEST_ROOT="$(mktemp -d)"
  trap 'rm -rf "$SELF_TEST_ROOT"' EXIT
  local root="$SELF_TEST_ROOT"
  mkdir -p "$root/etc/apt/sources.list.d" "$root/lists/partial" "$root/cache/archives/partial"
  : >"$root/etc/apt/sources.list"
  local f copied=0
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list; do
    [[ -f "$f" && "$(basename "$f")" != "$LIST_NAME" ]] || continue
    # Only the deb entries: drop any deb-src types so the root starts without them.
    sed -e 's/^\(Types:.*\) deb-src/\1/; s/^Types: deb-src \(.*\)/Types: \1/; /^deb-src /d' "$f" \
      >"$root/etc/apt/${f#/etc/apt/}"
    copied=1
  done
  ((copied)) || die "self-test: no apt source files in /etc/apt to start from"
  APT_ROOT="$root"
  SUDO=""
  if have_deb_src; then die "self-test: a root with no deb-src entries reports some"; fi
  log "self-test 1/2: no deb-src entries -> add them"
  ensure_deb_src
  local n
  n="$(source_records libzstd-dev)"
  log "self-test 2/2: $n source record(s) for libzstd-dev, $(source_records libsnappy-dev) for libsnappy-dev"
  have_deb_src || die "self-test: the check fails with $n source records"
  ensure_deb_src
  log "self-test passed"
}

case "$mode" in
  ensure) ensure_deb_src ;;
  check) have_deb_src ;;
  self-test) self_test ;;
esac
