/**
 * The io_uring TransportSocket itself (ts/net/transport-uring.ts over native/src/binding/
 * uring.cc), beside what the BrokerConnection tests cover on it: write callbacks on success
 * and on close, destroy() before the socket exists, that the ring keeps the process alive only
 * while it has sockets, that destroying it (or the process exiting) with writes in flight
 * ends cleanly, and that the leak checks of test/helpers/handles.ts see its sockets
 * (Node does not list an addon's libuv handles), the task-work mode a ring runs with (and its
 * fallback to plain when the setup flags are refused), and one ring per worker_threads
 * environment. Runs where io_uring is allowed; elsewhere the one test checks that the refusal
 * is reported instead.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import * as net from 'node:net';
import { describe, it } from 'node:test';
import { join } from 'node:path';
import { loadNativeAddon } from '../../../ts/backend/native.js';
import { Worker } from 'node:worker_threads';
import { UringTransport, type ProbeTaskRun, type TaskRunMode } from '../../../ts/net/transport-uring.js';
import { handleCounts, handlesAbove } from '../../helpers/handles.js';
import { loopbackServer } from '../../helpers/loopback-server.js';
import { getBackend } from '../../../ts/backend/load.js';

const addon = loadNativeAddon();
const refusal = typeof addon.ioUringProbe === 'function' ? addon.ioUringProbe() : 'no io_uring in this build';

const server = loopbackServer;

/** `n` awaited round trips of `size` bytes through an echo peer; resolves when all came back. */
async function echoRoundTrips(s: import('../../../ts/net/transport.js').TransportSocket, n: number, size: number): Promise<void> {
  let got = 0;
  let want = 0;
  let wake: (() => void) | null = null;
  s.on('data', (d: Buffer) => {
    got += d.length;
    if (got >= want && wake) wake();
  });
  for (let i = 0; i < n; i++) {
    want += size;
    const back = new Promise<void>((r) => (wake = r));
    s.write(Buffer.alloc(size, i & 0xff));
    if (got < want) await back;
  }
}

if (refusal !== null) {
  it('io_uring refused here is reported by backendInfo() with its reason', () => {
    const info = getBackend().info;
    assert.equal(info.io, 'net');
    assert.ok(info.ioReason.includes(refusal), info.ioReason);
  });
} else {
  describe('io_uring TransportSocket', () => {
    it('write callbacks run in order once written; pending ones fail when the socket is destroyed', async () => {
      const srv = await server((s) => s.pause()); // reads nothing: the send buffer fills
      const t = new UringTransport(addon.createRing!, { sendBuffer: 4096 });
      const s = t.connect('127.0.0.1', srv.port);
      await once(s, 'connect');
      const order: string[] = [];
      s.write(Buffer.alloc(100, 1), (err) => order.push(`small ${err ? 'err' : 'ok'}`));
      await new Promise<void>((r) => setTimeout(r, 50));
      assert.deepEqual(order, ['small ok']);
      // 64 MiB cannot fit in the buffers of a paused peer: its callback must wait, then fail.
      let big: Error | null | undefined;
      s.write(Buffer.alloc(64 << 20, 2), (err) => (big = err));
      await new Promise<void>((r) => setTimeout(r, 50));
      assert.equal(big, undefined, 'not written yet');
      const closed = once(s, 'close');
      s.destroy();
      await closed;
      assert.ok((big as unknown) instanceof Error, 'the pending write failed with the close');
      assert.equal(s.closed, true);
      assert.equal(t.openSockets(), 0);
      // After destroy, a write fails at once rather than never.
      const late = await new Promise<Error | null | undefined>((r) => s.write(Buffer.alloc(1), r));
      assert.ok(late instanceof Error);
      await srv.close();
    });

    it('destroy() while the name is still being looked up closes without a socket', async () => {
      const srv = await server();
      const t = new UringTransport(addon.createRing!);
      const s = t.connect('localhost', srv.port);
      let connected = false;
      s.on('connect', () => (connected = true));
      s.destroy();
      await once(s, 'close');
      await new Promise<void>((r) => setTimeout(r, 50));
      assert.equal(connected, false);
      assert.equal(t.openSockets(), 0);
      await srv.close();
    });

    it("the leak checks see a ring socket left open (IoUringSocket), and not once it is closed", async () => {
      const backend = getBackend();
      assert.ok(backend.transport instanceof UringTransport, `the loader picked io_uring (${backend.info.ioReason})`);
      const srv = await server();
      const baseline = handleCounts();
      const s = backend.transport.connect('127.0.0.1', srv.port);
      await once(s, 'connect');
      assert.deepEqual(handlesAbove(baseline, ['IoUringSocket']), ['IoUringSocket: 1 (baseline 0)']);
      const closed = once(s, 'close');
      s.destroy();
      await closed;
      assert.deepEqual(handlesAbove(baseline, ['IoUringSocket']), []);
      await srv.close();
    });

    it('destroy() and the environment cleanup with 64 MiB in flight end cleanly (the ASan run checks the memory)', async () => {
      // A peer that reads nothing: the write stays in the kernel's hands. One child destroys
      // the ring object then exits; the other calls process.exit() with the ring still busy
      // (the addon's environment cleanup hook). Both must exit 0 with only what they print on
      // stdout, and a ring call after destroy() must throw ERR_RING_DESTROYED.
      const srv = await server((s) => s.pause());
      const root = join(__dirname, '..', '..', '..', '..');
      for (const end of ['t.native.destroy(); process.stdout.write("destroyed");', 'process.stdout.write("exiting"); process.exit(0);']) {
        const script = `
          const { UringTransport } = require(${JSON.stringify(join(root, 'out', 'ts', 'net', 'transport-uring.js'))});
          const addon = require(${JSON.stringify(join(root, 'out', 'ts', 'backend', 'native.js'))}).loadNativeAddon();
          const t = new UringTransport(addon.createRing, { sendBuffer: 4096 });
          const s = t.connect('127.0.0.1', ${srv.port});
          s.on('connect', () => {
            s.write(Buffer.alloc(64 << 20, 7), () => process.stdout.write('written?'));
            setTimeout(() => {
              ${end}
              try { t.native.write(1, [Buffer.alloc(1)], true); } catch (e) { process.stdout.write(' ' + e.code); }
            }, 100);
          });
        `;
        const out = execFileSync(process.execPath, ['-e', script], { timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
        assert.equal(out, end.includes('destroy') ? 'destroyed ERR_RING_DESTROYED' : 'exiting');
      }
      await srv.close();
    });

    it('a ring runs with the task-work mode the probe names; refused flags give plain, with the reason', async () => {
      const probe = (addon as { ioUringTaskRun?: ProbeTaskRun }).ioUringTaskRun!;
      const srv = await server((s) => s.pipe(s));
      const cases: { mode: TaskRunMode; refuse: boolean }[] = [
        { mode: 'defer', refuse: false },
        { mode: 'coop', refuse: false },
        { mode: 'plain', refuse: false },
        { mode: 'defer', refuse: true },
        { mode: 'coop', refuse: true },
      ];
      for (const c of cases) {
        const expected = probe(c.mode, c.refuse);
        if (c.refuse) {
          assert.equal(expected.mode, 'plain');
          assert.match(expected.fallback!, new RegExp(`^the kernel refused IORING_SETUP_${c.mode.toUpperCase()}_TASKRUN`));
        }
        const t = new UringTransport(addon.createRing!, { taskRun: c.mode, refuseTaskRunForTest: c.refuse });
        assert.equal(t.taskRun(), null, 'no ring before the first connect');
        const s = t.connect('127.0.0.1', srv.port);
        await once(s, 'connect');
        assert.deepEqual(t.taskRun(), expected, `${c.mode}${c.refuse ? ' refused' : ''}`);
        await echoRoundTrips(s, 50, 1000);
        const closed = once(s, 'close');
        s.destroy();
        await closed;
        await new Promise((r) => setImmediate(r)); // out of the ring's own callback
        t.native.destroy();
      }
      // This kernel (6.1+) takes DEFER_TASKRUN: the default ring uses it.
      if (probe('defer').mode === 'defer') {
        const t = new UringTransport(addon.createRing!);
        const s = t.connect('127.0.0.1', srv.port);
        await once(s, 'connect');
        assert.deepEqual(t.taskRun(), { mode: 'defer', fallback: null });
        s.destroy();
        await once(s, 'close');
        await new Promise((r) => setImmediate(r)); // out of the ring's own callback
        t.native.destroy();
      }
      assert.throws(() => addon.createRing!(() => undefined, 'sqpoll' as TaskRunMode), /taskRun must be 'defer', 'coop' or 'plain'/);
      assert.throws(() => probe('bogus' as TaskRunMode), /taskRun must be 'defer', 'coop' or 'plain'/);
      await srv.close();
    });

    it('each worker_threads environment has its own ring on its own thread (SINGLE_ISSUER): main and two workers echo at once', async () => {
      const srv = await server((s) => s.pipe(s));
      const root = join(__dirname, '..', '..', '..', '..');
      const script = `
        const { parentPort, workerData } = require('node:worker_threads');
        const { UringTransport } = require(${JSON.stringify(join(root, 'out', 'ts', 'net', 'transport-uring.js'))});
        const addon = require(${JSON.stringify(join(root, 'out', 'ts', 'backend', 'native.js'))}).loadNativeAddon();
        const t = new UringTransport(addon.createRing);
        const s = t.connect('127.0.0.1', workerData.port);
        let got = 0, want = 0, wake = null;
        s.on('data', (d) => { got += d.length; if (got >= want && wake) wake(); });
        s.on('connect', async () => {
          for (let i = 0; i < 300; i++) {
            want += 700;
            const back = new Promise((r) => (wake = r));
            s.write(Buffer.alloc(700, i & 0xff));
            if (got < want) await back;
          }
          const mode = t.taskRun().mode;
          s.on('close', () => parentPort.postMessage({ got, mode }));
          s.destroy();
        });
      `;
      const workers = [0, 1].map(() => new Worker(script, { eval: true, workerData: { port: srv.port } }));
      const exits = workers.map((w) => once(w, 'exit'));
      const results = workers.map((w) => new Promise<{ got: number; mode: string }>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      }));
      const t = new UringTransport(addon.createRing!);
      const s = t.connect('127.0.0.1', srv.port);
      await once(s, 'connect');
      await echoRoundTrips(s, 300, 700);
      const mine = t.taskRun()!.mode;
      s.destroy();
      await once(s, 'close');
      const theirs = await Promise.all(results);
      // A worker's end tears its ring down through the environment's async cleanup hook: the
      // poll handle's close must finish before Node unloads the addon there (it crashed).
      assert.deepEqual(await Promise.all(exits), [[0], [0]]);
      const probe = (addon as { ioUringTaskRun?: ProbeTaskRun }).ioUringTaskRun!;
      for (const r of theirs) assert.deepEqual(r, { got: 300 * 700, mode: probe('defer').mode });
      assert.equal(mine, probe('defer').mode);
      await new Promise((r) => setImmediate(r));
      t.native.destroy();
      await srv.close();
    });

    it('the ring keeps the process alive while a socket is open, and lets it exit after close', async () => {
      const srv = await server();
      const root = join(__dirname, '..', '..', '..', '..');
      const script = `
        const { UringTransport } = require(${JSON.stringify(join(root, 'out', 'ts', 'net', 'transport-uring.js'))});
        const addon = require(${JSON.stringify(join(root, 'out', 'ts', 'backend', 'native.js'))}).loadNativeAddon();
        const t = new UringTransport(addon.createRing);
        const s = t.connect('127.0.0.1', ${srv.port});
        // Nothing but the ring's socket holds the loop: the process must live until it closes.
        s.on('connect', () => { process.stdout.write('connected '); setTimeout(() => s.destroy(), 300).unref(); });
        s.on('close', () => process.stdout.write('closed'));
      `;
      const out = execFileSync(process.execPath, ['-e', script], { timeout: 10_000 }).toString();
      assert.equal(out, 'connected closed');
      await srv.close();
    });
  });
}
