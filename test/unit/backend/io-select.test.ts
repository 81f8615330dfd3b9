/**
 * The transport choice at load (ts/backend/native-backend.ts chooseIo, ts/backend/load.ts):
 * KAFKA_TURBO_IO forces one, a bad value or an impossible combination is a clear error, and
 * backendInfo() reports the choice with its reason. Each case is a child process, since the
 * choice is made once per process.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import { loadNativeAddon } from '../../../ts/backend/native.js';

const index = join(__dirname, '..', '..', '..', 'ts', 'index.js');
const refusal = (() => {
  const a = loadNativeAddon();
  return typeof a.ioUringProbe === 'function' ? a.ioUringProbe() : 'no io_uring in this build';
})();

function info(env: Record<string, string>): { ok: boolean; out: string } {
  const r = spawnSync(
    process.execPath,
    ['-e', `const i = require(${JSON.stringify(index)}).backendInfo(); console.log(JSON.stringify({backend: i.backend, io: i.io, ioUring: i.ioUring, ioReason: i.ioReason}))`],
    { env: { ...process.env, KAFKA_TURBO_BACKEND: '', KAFKA_TURBO_IO: '', ...env }, encoding: 'utf8' },
  );
  return { ok: r.status === 0, out: r.status === 0 ? r.stdout.trim() : r.stderr };
}

it('KAFKA_TURBO_IO=net: node:net on the native backend, said so', () => {
  const r = info({ KAFKA_TURBO_BACKEND: 'native', KAFKA_TURBO_IO: 'net' });
  assert.ok(r.ok, r.out);
  assert.deepEqual(JSON.parse(r.out), { backend: 'native', io: 'net', ioUring: false, ioReason: 'node:net: KAFKA_TURBO_IO=net' });
});

it('unset: the probe decides, and the reason says what it found', () => {
  const r = info({ KAFKA_TURBO_BACKEND: 'native' });
  assert.ok(r.ok, r.out);
  const i = JSON.parse(r.out);
  if (refusal === null) {
    assert.equal(i.io, 'uring');
    assert.equal(i.ioUring, true);
    assert.match(i.ioReason, /^io_uring: the probe at load passed/);
  } else {
    assert.equal(i.io, 'net');
    assert.equal(i.ioReason, `node:net: io_uring refused: ${refusal}`);
  }
});

it('KAFKA_TURBO_IO=uring: io_uring, or an error at load naming the refusal (never a quiet fallback)', () => {
  const r = info({ KAFKA_TURBO_IO: 'uring' });
  if (refusal === null) {
    assert.ok(r.ok, r.out);
    assert.equal(JSON.parse(r.out).io, 'uring');
  } else {
    assert.equal(r.ok, false);
    assert.match(r.out, /KAFKA_TURBO_IO=uring/);
  }
});

it('a bad KAFKA_TURBO_IO, and uring with the fallback backend, are clear errors', () => {
  const bad = info({ KAFKA_TURBO_BACKEND: 'native', KAFKA_TURBO_IO: 'epoll' });
  assert.equal(bad.ok, false);
  assert.match(bad.out, /KAFKA_TURBO_IO must be "uring" or "net", not "epoll"/);
  // Also when the backend is not forced: not a quiet switch to the fallback backend.
  const badUnforced = info({ KAFKA_TURBO_IO: 'epoll' });
  assert.equal(badUnforced.ok, false, badUnforced.out);
  assert.match(badUnforced.out, /KAFKA_TURBO_IO must be "uring" or "net", not "epoll"/);
  const fb = info({ KAFKA_TURBO_BACKEND: 'fallback', KAFKA_TURBO_IO: 'uring' });
  assert.equal(fb.ok, false);
  assert.match(fb.out, /KAFKA_TURBO_IO=uring needs the native backend/);
  const ok = info({ KAFKA_TURBO_BACKEND: 'fallback' });
  assert.ok(ok.ok, ok.out);
  assert.equal(JSON.parse(ok.out).io, 'net');
});
