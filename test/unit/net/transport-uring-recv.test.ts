/**
 * The io_uring transport's two receive modes (ts/net/transport-uring.ts RecvMode over
 * native/src/binding/uring.cc): 'poll' (recv(2) when libuv's epoll reports the socket readable,
 * one poll handle per connection) and 'ring' (an io_uring recv always armed). Each test runs in
 * both, and both must behave the same: bytes whole and in order through a tiny SO_RCVBUF from a
 * peer writing one byte at a time, a response of many reads, the peer's end (close, no error)
 * and reset (ECONNRESET, then close), destroy() while bytes keep arriving, many sockets at once;
 * and in 'poll' mode the connections' poll handles: one per open socket, none left after close
 * (pollHandles(): Node does not list an addon's libuv handles), the process exiting by itself
 * after close, and a worker_threads environment ending (process.exit() in it, or terminate())
 * with sockets and their poll handles open.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { once } from 'node:events';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { loadNativeAddon } from '../../../ts/backend/native.js';
import { UringTransport, type RecvMode } from '../../../ts/net/transport-uring.js';
import type { TransportSocket } from '../../../ts/net/transport.js';
import { loopbackServer } from '../../helpers/loopback-server.js';

const addon = loadNativeAddon();
const refusal = typeof addon.ioUringProbe === 'function' ? addon.ioUringProbe() : 'no io_uring in this build';
const root = join(__dirname, '..', '..', '..', '..');
const MODES: RecvMode[] = ['poll', 'ring'];

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + seed * 7 + (i >> 9)) & 0xff;
  return b;
}

/** Collects a socket's bytes; `until(n)` resolves once n bytes are in. */
function collect(s: TransportSocket): { chunks: Buffer[]; bytes: () => number; until: (n: number) => Promise<void> } {
  const chunks: Buffer[] = [];
  let total = 0;
  let want = Infinity;
  let wake: (() => void) | null = null;
  s.on('data', (d: Buffer) => {
    chunks.push(d);
    total += d.length;
    if (total >= want && wake) wake();
  });
  return {
    chunks,
    bytes: () => total,
    until: (n) => {
      if (total >= n) return Promise.resolve();
      want = n;
      return new Promise<void>((r) => (wake = r));
    },
  };
}

/** Resolves with ['error' codes..., 'close:<hadError>'] once the socket closed. */
function ending(s: TransportSocket): Promise<string[]> {
  const seen: string[] = [];
  s.on('error', (e: NodeJS.ErrnoException) => seen.push(`error:${e.code}`));
  return new Promise((r) => s.once('close', (hadError: boolean) => r([...seen, `close:${hadError}`])));
}

/** A new transport receiving in `mode`, and a check that its ring got it. */
function transport(mode: RecvMode, recvBuffer = 0): UringTransport {
  return new UringTransport(addon.createRing!, { recv: mode, recvBuffer });
}

async function connected(t: UringTransport, port: number, mode: RecvMode): Promise<TransportSocket> {
  const s = t.connect('127.0.0.1', port);
  await once(s, 'connect');
  assert.equal(t.recvMode(), mode, 'the ring receives in the mode asked for');
  return s;
}

/** Out of the ring's own callback, then the ring destroyed (each test's transport is its own). */
async function done(t: UringTransport): Promise<void> {
  await new Promise((r) => setImmediate(r));
  assert.equal(t.native.pollHandles(), 0, 'no connection poll handle left');
  t.native.destroy();
}

if (refusal !== null) {
  it('io_uring refused here: the receive modes are not tested', (t) => t.skip(refusal));
} else {
  for (const mode of MODES) {
    describe(`io_uring receive mode '${mode}'`, () => {
      it('a peer writing one byte at a time into a 1 KiB SO_RCVBUF: every byte, in order', async () => {
        const payload = pattern(3000, 1);
        const srv = await loopbackServer((p) => {
          p.setNoDelay(true);
          let i = 0;
          const next = () => {
            if (i < payload.length) p.write(payload.subarray(i, ++i), () => setImmediate(next));
          };
          next();
        });
        const t = transport(mode, 1024);
        const s = await connected(t, srv.port, mode);
        const got = collect(s);
        await got.until(payload.length);
        assert.ok(Buffer.concat(got.chunks).equals(payload));
        assert.ok(got.chunks.length > 1, `${got.chunks.length} reads`);
        if (mode === 'poll') assert.equal(t.native.pollHandles(), 1);
        s.destroy();
        await once(s, 'close');
        await done(t);
        await srv.close();
      });

      it('a 24 MiB response arrives whole over many reads (at most 64 KiB each)', async () => {
        const payload = pattern(24 << 20, 2);
        const srv = await loopbackServer((p) => p.write(payload));
        const t = transport(mode);
        const s = await connected(t, srv.port, mode);
        const got = collect(s);
        await got.until(payload.length);
        assert.ok(Buffer.concat(got.chunks).equals(payload));
        assert.ok(got.chunks.length >= payload.length / 65536, `${got.chunks.length} reads`);
        assert.ok(got.chunks.every((c) => c.length <= 65536));
        s.destroy();
        await once(s, 'close');
        await done(t);
        await srv.close();
      });

      it('received bytes kept while more arrive stay as they were: odd sizes across the ends of the receive slabs', async () => {
        // The addon copies what it reads into 256 KiB slabs JavaScript sees through views. Odd
        // sizes leave a slab's end part-used, so a later read does not fit and starts a new slab,
        // in poll mode inside one wake-up's reads: the data after it is in the next slab.
        const sizes = [1, 999, 65537, 3000, 200_001, 7, 1 << 20, 123_457, 3 << 20];
        const parts = sizes.map((n, i) => pattern(n, 10 + i));
        const srv = await loopbackServer((p) => {
          p.setNoDelay(true);
          let i = 0;
          const next = (): void => {
            if (i < parts.length) p.write(parts[i++]!, () => setTimeout(next, 2));
          };
          next();
        });
        const t = transport(mode);
        const s = await connected(t, srv.port, mode);
        const got = collect(s);
        const total = sizes.reduce((a, b) => a + b, 0);
        // A copy of every chunk as it arrived: the views must still read the same at the end.
        const copies: Buffer[] = [];
        s.on('data', (d: Buffer) => copies.push(Buffer.from(d)));
        await got.until(total);
        assert.equal(got.bytes(), total);
        assert.ok(Buffer.concat(got.chunks).equals(Buffer.concat(parts)), 'every byte, in order');
        got.chunks.forEach((c, i) => assert.ok(c.equals(copies[i]!), `chunk ${i} (${c.length} bytes) changed after it arrived`));
        s.destroy();
        await once(s, 'close');
        await done(t);
        await srv.close();
      });

      it("the peer's end: its last bytes, then 'close' without an error", async () => {
        const srv = await loopbackServer((p) => p.end(Buffer.from('goodbye')));
        const t = transport(mode);
        const s = t.connect('127.0.0.1', srv.port);
        const got = collect(s);
        const end = ending(s);
        await once(s, 'connect');
        assert.equal(t.recvMode(), mode);
        assert.deepEqual(await end, ['close:false']);
        assert.equal(Buffer.concat(got.chunks).toString(), 'goodbye');
        assert.equal(t.openSockets(), 0);
        await done(t);
        await srv.close();
      });

      it("the peer's reset: its bytes, then 'error' ECONNRESET and 'close'", async () => {
        let peer: import('node:net').Socket | null = null;
        const srv = await loopbackServer((p) => {
          peer = p;
          p.write('before the reset');
        });
        const t = transport(mode);
        const s = await connected(t, srv.port, mode);
        const got = collect(s);
        const end = ending(s);
        await got.until(16);
        peer!.resetAndDestroy();
        assert.deepEqual(await end, ['error:ECONNRESET', 'close:true']);
        assert.equal(Buffer.concat(got.chunks).toString(), 'before the reset');
        assert.equal(t.openSockets(), 0);
        await done(t);
        await srv.close();
      });

      it('destroy() while bytes keep arriving: no data after it, the socket and its poll handle gone, the ring still works', async () => {
        const srv = await loopbackServer((p) => {
          const chunk = Buffer.alloc(1 << 20, 9);
          const pump = () => {
            while (!p.destroyed && p.write(chunk));
            if (!p.destroyed) p.once('drain', pump);
          };
          pump();
        });
        const t = transport(mode);
        const s = await connected(t, srv.port, mode);
        let after = 0;
        let destroyed = false;
        s.on('data', () => {
          if (destroyed) after++;
          else {
            destroyed = true;
            s.destroy();
          }
        });
        const end = ending(s);
        assert.deepEqual(await end, ['close:false']);
        assert.equal(after, 0, 'no data event after destroy()');
        assert.equal(t.openSockets(), 0);
        assert.equal(t.native.pollHandles(), 0);
        // The same ring, a new socket: an echo still comes back.
        const echo = await loopbackServer((p) => p.pipe(p));
        const s2 = await connected(t, echo.port, mode);
        const got = collect(s2);
        s2.write(Buffer.from('still here'));
        await got.until(10);
        assert.equal(Buffer.concat(got.chunks).toString(), 'still here');
        s2.destroy();
        await once(s2, 'close');
        await done(t);
        await echo.close();
        await srv.close();
      });

      it('64 sockets at once, 20 echoed round trips each: every byte back on its own socket', async () => {
        const srv = await loopbackServer((p) => p.pipe(p));
        const t = transport(mode);
        const sockets = await Promise.all(Array.from({ length: 64 }, () => connected(t, srv.port, mode)));
        assert.equal(t.native.pollHandles(), mode === 'poll' ? 64 : 0);
        await Promise.all(
          sockets.map(async (s, k) => {
            const got = collect(s);
            let want = 0;
            const sent: Buffer[] = [];
            for (let i = 0; i < 20; i++) {
              const b = pattern(500 + ((k * 37 + i * 101) % 3000), k * 20 + i);
              sent.push(b);
              want += b.length;
              s.write(b);
              await got.until(want);
            }
            assert.ok(Buffer.concat(got.chunks).equals(Buffer.concat(sent)), `socket ${k}`);
          }),
        );
        await Promise.all(sockets.map((s) => { const c = once(s, 'close'); s.destroy(); return c; }));
        assert.equal(t.openSockets(), 0);
        await done(t);
        await srv.close();
      });

      it('after its sockets closed the process exits by itself, promptly (no poll handle holds it or is left for exit)', async () => {
        const srv = await loopbackServer((p) => p.pipe(p));
        const script = `
          const { UringTransport } = require(${JSON.stringify(join(root, 'out', 'ts', 'net', 'transport-uring.js'))});
          const addon = require(${JSON.stringify(join(root, 'out', 'ts', 'backend', 'native.js'))}).loadNativeAddon();
          const t = new UringTransport(addon.createRing, { recv: ${JSON.stringify(mode)} });
          let open = 0;
          for (let k = 0; k < 8; k++) {
            const s = t.connect('127.0.0.1', ${srv.port});
            open++;
            s.on('connect', () => s.write(Buffer.from('ping')));
            s.on('data', () => s.destroy());
            s.on('close', () => {
              if (--open > 0) return;
              setImmediate(() => process.stdout.write(t.recvMode() + ' ' + t.native.pollHandles() + ' ' + t.openSockets()));
            });
          }
        `;
        const started = Date.now();
        // Not execFileSync: the echo server runs on this thread's loop.
        const { stdout: out } = await promisify(execFile)(process.execPath, ['-e', script], { timeout: 10_000 });
        assert.equal(out, `${mode} 0 0`);
        assert.ok(Date.now() - started < 5000, `exited after ${Date.now() - started} ms`);
        await srv.close();
      });

      it('a worker_threads environment ends with sockets open and bytes arriving: process.exit() in it, and terminate() from outside', async () => {
        const srv = await loopbackServer((p) => {
          const chunk = Buffer.alloc(64 * 1024, 3);
          const timer = setInterval(() => (p.destroyed ? clearInterval(timer) : p.write(chunk)), 1);
          p.on('close', () => clearInterval(timer));
        });
        const script = `
          const { parentPort, workerData } = require('node:worker_threads');
          const { UringTransport } = require(${JSON.stringify(join(root, 'out', 'ts', 'net', 'transport-uring.js'))});
          const addon = require(${JSON.stringify(join(root, 'out', 'ts', 'backend', 'native.js'))}).loadNativeAddon();
          const t = new UringTransport(addon.createRing, { recv: workerData.mode });
          let bytes = 0, ready = 0;
          for (let k = 0; k < 8; k++) {
            const s = t.connect('127.0.0.1', workerData.port);
            s.on('data', (d) => {
              bytes += d.length;
              if (bytes > (1 << 20) && ready++ === 0) {
                parentPort.postMessage({ polls: t.native.pollHandles(), sockets: t.openSockets() });
                if (workerData.end === 'exit') setTimeout(() => process.exit(0), 20);
              }
            });
          }
        `;
        for (const end of ['exit', 'terminate'] as const) {
          const w = new Worker(script, { eval: true, workerData: { port: srv.port, mode, end } });
          const exited = once(w, 'exit');
          const [msg] = (await once(w, 'message')) as [{ polls: number; sockets: number }];
          assert.deepEqual(msg, { polls: mode === 'poll' ? 8 : 0, sockets: 8 });
          if (end === 'terminate') await w.terminate();
          // The environment's cleanup closed the poll handles before it let the addon go (a
          // crash or a hang here otherwise; the ASan run checks the memory).
          assert.deepEqual(await exited, [end === 'exit' ? 0 : 1]);
        }
        await srv.close();
      });
    });
  }
}
