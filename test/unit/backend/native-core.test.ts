/**
 * The plain C++ core's own tests (native/test/*.cc: CRC32C at every level, record encoding,
 * the accumulator, compression off the JS thread), built with AddressSanitizer and
 * UndefinedBehaviorSanitizer and run here, so that a memory error in the core fails the
 * suite (they use the same sources as the addon).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..', '..', '..', '..');

test('C++ core tests pass under ASan and UBSan', { timeout: 300_000 }, () => {
  execFileSync('bash', [join(root, 'native', 'test', 'build.sh')], {
    cwd: root,
    env: { ...process.env, SANITIZE: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  for (const name of ['core_test', 'crc32c_test']) {
    // A sanitizer report or a failed check makes the binary exit non-zero. Its FAIL lines and
    // the sanitizer's report are what a reader of the CI log needs, so they go into the
    // assertion's message rather than only into the thrown error's buffers.
    const r = spawnSync(join(root, 'native', 'build', 'c-asan', name), {
      env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0', UBSAN_OPTIONS: 'halt_on_error=1' },
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    const out = r.stdout ?? '';
    const failed = out.split('\n').filter((l) => l.startsWith('FAIL '));
    assert.ok(r.status === 0 && failed.length === 0, `${name} exited ${r.status ?? r.signal}:\n${failed.join('\n')}\n${(r.stderr ?? '').slice(-4000)}`);
    const m = /^(\d+) passed, (\d+) failed$/m.exec(out);
    assert.ok(m, `${name} printed its summary`);
    assert.equal(Number(m[2]), 0, `${name}: ${m[0]}`);
    assert.ok(Number(m[1]) > 100, `${name} ran its checks`);
  }
});
