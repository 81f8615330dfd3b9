/**
 * scripts/deb-src.sh's check must not depend on how the producer of its pipe is cut off
 * (issue 7): under `set -o pipefail`, `apt-cache showsrc X | grep -q` is false when apt-cache
 * writes its records in more than one write and grep has already quit after the first match
 * (apt-cache dies of SIGPIPE, exit 141). A fake apt-cache on PATH reproduces exactly that: one
 * record, a pause, then more records. The check must say yes with it, no with a fake that
 * finds nothing, and the old one-liner must say no with it (so the fake really reproduces the
 * failure this guards against).
 *
 * Both real situations (no deb-src entries at all; several source records per package) are run
 * against a private apt root by `bash scripts/deb-src.sh --self-test`, which CI runs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

const root = process.cwd();
const script = join(root, 'scripts', 'deb-src.sh');
const dir = mkdtempSync(join(tmpdir(), 'kt-deb-src-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A directory with a fake `apt-cache` whose `showsrc` prints `body` (a bash snippet). */
function fakeAptCache(name: string, body: string): string {
  const bin = join(dir, name);
  spawnSync('mkdir', ['-p', bin]);
  const file = join(bin, 'apt-cache');
  writeFileSync(file, `#!/usr/bin/env bash\n[[ " $* " == *" showsrc "* ]] || exit 1\n${body}\n`);
  chmodSync(file, 0o755);
  return bin;
}

// Several source records in separate writes, the way apt-cache wrote them on the machine of
// issue 7; the pause makes sure grep -q has quit before the second write.
const severalRecords = fakeAptCache(
  'several',
  `for i in 1 2 3; do printf 'Package: libzstd\\nBinary: libzstd-dev\\nVersion: 1.5.4+dfsg2-5\\n\\n'; sleep 0.2; done`,
);
const noRecords = fakeAptCache('none', `echo 'W: Unable to locate package libzstd-dev' >&2; exit 0`);

function run(bin: string, args: string[]): number | null {
  const r = spawnSync('bash', args, { env: { ...process.env, PATH: `${bin}:${process.env['PATH']}` }, encoding: 'utf8' });
  return r.status;
}

describe('scripts/deb-src.sh --check', () => {
  it('finds the entries when apt-cache prints several records in several writes', () => {
    assert.equal(run(severalRecords, [script, '--check']), 0);
  });

  it('reports none when apt-cache finds nothing', () => {
    assert.equal(run(noRecords, [script, '--check']), 1);
  });

  it('the old `| grep -q` check fails with the same fake (the fake reproduces issue 7)', () => {
    const old = `set -euo pipefail; apt-cache showsrc libzstd-dev 2>/dev/null | grep -q '^Package: '`;
    assert.notEqual(run(severalRecords, ['-c', old]), 0);
  });
});
