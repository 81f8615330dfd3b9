/**
 * The io_uring transport's C++ core (native/src/io/ring.cc) tested alone under AddressSanitizer
 * and UndefinedBehaviorSanitizer (native/test/ring_test.cc): short sends and reads through
 * tiny SO_SNDBUF/SO_RCVBUF, refused connects, the peer closing mid-request, close with writes
 * in flight, and 24 connections to 6 servers with 10k requests in flight. Linux only; on a
 * machine that refuses io_uring the binary says why and exits 2, which fails here with that
 * reason (this suite runs where io_uring is expected to work).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..', '..', '..', '..');

test('io_uring ring core passes its tests under ASan and UBSan', { timeout: 300_000 }, () => {
  execFileSync('bash', [join(root, 'native', 'test', 'build.sh')], {
    cwd: root,
    env: { ...process.env, SANITIZE: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const out = execFileSync(join(root, 'native', 'build', 'c-asan', 'ring_test'), {
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0', UBSAN_OPTIONS: 'halt_on_error=1' },
  }).toString();
  assert.match(out, /^ring_test: all passed$/m);
  assert.equal((out.match(/^ok /gm) ?? []).length, 5, out);
});
