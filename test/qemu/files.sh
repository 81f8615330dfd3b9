# Sourced by test/qemu/run.sh and test/qemu/musl.sh: which test files they run, from
# test/qemu/tests.txt (that file says what is left out and why).
#
#   test_files RUN     RUN: qemu or musl. Prints "SECONDS PATH" per file, in path order:
#                      every out/test/unit and out/test/parity *.test.js not skipped for RUN,
#                      with its qemu seconds from tests.txt (30 when it has none).
# Needs ROOT (the repository) and the working directory to be ROOT.

test_files() {
  local run="$1" list="$ROOT/test/qemu/tests.txt"
  find out/test/unit out/test/parity -name '*.test.js' | LC_ALL=C sort |
    awk -v run="$run" -v list="$list" '
      BEGIN {
        while ((getline line < list) > 0) {
          sub(/#.*/, "", line)
          n = split(line, f, " ")
          if (n == 0) continue
          if (f[1] == "skip") {
            if (n != 3 || (f[2] != "qemu" && f[2] != "musl" && f[2] != "both")) { print "bad line in " list ": " line > "/dev/stderr"; exit 2 }
            if (f[2] == run || f[2] == "both") skip[f[3]] = 1
            skipped[f[3]] = 1
          } else if (n == 2 && f[2] ~ /^[0-9]+$/) {
            secs[f[1]] = f[2]
          } else { print "bad line in " list ": " line > "/dev/stderr"; exit 2 }
        }
      }
      { seen[$0] = 1 }
      !($0 in skip) { print (($0 in secs) ? secs[$0] : 30), $0 }
      END {
        # A skip line that names no file would let that file run here after a rename.
        for (p in skipped) if (!(p in seen)) { print "test/qemu/tests.txt skips " p ", which is not in out/ (renamed? npm run build?)" > "/dev/stderr"; exit 2 }
        for (p in secs) if (!(p in seen)) print "test/qemu/tests.txt: no " p " (a stale time, ignored)" > "/dev/stderr"
      }'
}
