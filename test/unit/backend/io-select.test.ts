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
import { DEFAULT_RECV, type ProbeTaskRun } from '../../../ts/net/transport-uring.js';

const index = join(__dirname, '..', '..', '..', 'ts', 'index.js');
const addon = loadNativeAddon();
const refusal = typeof addon.ioUringProbe === 'function' ? addon.ioUringProbe() : 'no io_uring in this build';
const probeTaskRun = (addon as { ioUringTaskRun?: ProbeTaskRun }).ioUringTaskRun;

function info(env: Record<string, string>): { ok: boolean; out: string } {
  const r = spawnSync(
    process.execPath,
    ['-e', `const i = require(${JSON.stringify(index)}).backendInfo(); console.log(JSON.stringify({backend: i.backend, io: i.io, ioUring: i.ioUring, ioReason: i.ioReason}))`],
    {
      env: { ...process.env, KAFKA_TURBO_BACKEND: '', KAFKA_TURBO_IO: '', KAFKA_TURBO_IO_TASKRUN: '', KAFKA_TURBO_IO_RECV: '', KAFKA_TURBO_TEST_REFUSE_TASKRUN: '', ...env },
      encoding: 'utf8',
    },
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
    // And the ring's task-work mode: DEFER_TASKRUN where the kernel takes it (6.1+).
    const mode = probeTaskRun!('defer');
    assert.ok(
      i.ioReason.endsWith(mode.mode === 'defer' ? '; task work: IORING_SETUP_DEFER_TASKRUN' : `; task work: plain (no task-work flags) (defer asked for: ${mode.fallback})`),
      i.ioReason,
    );
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

it('KAFKA_TURBO_IO_TASKRUN picks the ring\'s task-work mode, a kernel refusing it gets plain with the reason, a bad value is an error', (t) => {
  if (refusal !== null) return t.skip(`io_uring refused here: ${refusal}`);
  const plain = info({ KAFKA_TURBO_BACKEND: 'native', KAFKA_TURBO_IO_TASKRUN: 'plain' });
  assert.ok(plain.ok, plain.out);
  assert.ok(JSON.parse(plain.out).ioReason.endsWith('; task work: plain (no task-work flags)'), plain.out);
  const coop = info({ KAFKA_TURBO_BACKEND: 'native', KAFKA_TURBO_IO_TASKRUN: 'coop' });
  assert.ok(coop.ok, coop.out);
  const c = probeTaskRun!('coop');
  assert.ok(JSON.parse(coop.out).ioReason.endsWith(c.mode === 'coop' ? '; task work: IORING_SETUP_COOP_TASKRUN' : `(coop asked for: ${c.fallback})`), coop.out);
  // The setup flags refused (as by a kernel older than 6.1): io_uring still, plain task work,
  // and the reason names the flag.
  const refused = info({ KAFKA_TURBO_BACKEND: 'native', KAFKA_TURBO_TEST_REFUSE_TASKRUN: '1' });
  assert.ok(refused.ok, refused.out);
  const r = JSON.parse(refused.out);
  assert.equal(r.io, 'uring');
  assert.match(r.ioReason, /; task work: plain \(no task-work flags\) \(defer asked for: the kernel refused IORING_SETUP_DEFER_TASKRUN \(io_uring_setup: .*errno 22\)\)\)$/);
  const bads: Record<string, string>[] = [{ KAFKA_TURBO_BACKEND: 'native', KAFKA_TURBO_IO_TASKRUN: 'sqpoll' }, { KAFKA_TURBO_IO_TASKRUN: 'sqpoll' }];
  for (const env of bads) {
    const bad = info(env);
    assert.equal(bad.ok, false, bad.out);
    assert.match(bad.out, /KAFKA_TURBO_IO_TASKRUN must be "defer", "coop" or "plain", not "sqpoll"/);
  }
});

it('KAFKA_TURBO_IO_RECV picks how the ring receives, backendInfo().ioReason says which (and that it was asked for), a bad value is an error', (t) => {
  if (refusal !== null) return t.skip(`io_uring refused here: ${refusal}`);
  const says = { poll: '; receive: recv(2) on libuv epoll readiness (poll)', ring: '; receive: io_uring recv (ring)' };
  const unset = info({ KAFKA_TURBO_BACKEND: 'native' });
  assert.ok(unset.ok, unset.out);
  assert.ok(JSON.parse(unset.out).ioReason.includes(`${says[DEFAULT_RECV]}; task work: `), unset.out);
  for (const mode of ['poll', 'ring'] as const) {
    const r = info({ KAFKA_TURBO_BACKEND: 'native', KAFKA_TURBO_IO_RECV: mode });
    assert.ok(r.ok, r.out);
    assert.ok(JSON.parse(r.out).ioReason.includes(`${says[mode]}, KAFKA_TURBO_IO_RECV=${mode}; task work: `), r.out);
  }
  const bads: Record<string, string>[] = [{ KAFKA_TURBO_BACKEND: 'native', KAFKA_TURBO_IO_RECV: 'epoll' }, { KAFKA_TURBO_IO_RECV: 'epoll' }];
  for (const env of bads) {
    const bad = info(env);
    assert.equal(bad.ok, false, bad.out);
    assert.match(bad.out, /KAFKA_TURBO_IO_RECV must be "poll" or "ring", not "epoll"/);
  }
});
