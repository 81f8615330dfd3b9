import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { KafkaJSConnectionError, KafkaJSRequestTimeoutError } from '../../../ts/errors.js';
import {
  BrokerConnection,
  type BrokerConnectionOptions,
  type RequestEvent,
  type RequestQueueSizeEvent,
  type RequestTimeoutEvent,
} from '../../../ts/net/connection.js';
import { Reader } from '../../../ts/protocol/reader.js';
import { netTransport, type Transport } from '../../../ts/net/transport.js';
import { UringTransport } from '../../../ts/net/transport-uring.js';
import { loadNativeAddon } from '../../../ts/backend/native.js';

/**
 * Every test runs on each transport: node:net, the native io_uring ring, and the ring with
 * tiny SO_SNDBUF/SO_RCVBUF on the client's sockets (4 KiB / 2 KiB), so that requests go out
 * in short sends and responses arrive in short reads. Where the addon or the kernel refuses
 * io_uring, the uring variants are replaced by one test that checks the refusal is reported.
 */
const addon = (() => {
  try {
    return loadNativeAddon();
  } catch {
    return null;
  }
})();
const uringRefusal: string | null =
  addon === null
    ? 'the native addon does not load'
    : typeof addon.ioUringProbe !== 'function'
      ? 'this addon has no io_uring transport'
      : addon.ioUringProbe();
const transports: { name: string; make: () => Transport }[] = [{ name: 'node:net', make: () => netTransport }];
if (uringRefusal === null) {
  transports.push({ name: 'io_uring', make: () => new UringTransport(addon!.createRing!) });
  transports.push({
    name: 'io_uring, 4 KiB SO_SNDBUF / 2 KiB SO_RCVBUF',
    make: () => new UringTransport(addon!.createRing!, { sendBuffer: 4096, recvBuffer: 2048 }),
  });
} else {
  it('io_uring refused here is reported with its reason', async () => {
    const { backendInfo, resetBackendForTest } = await import('../../../ts/backend/load.js');
    resetBackendForTest();
    const info = backendInfo();
    assert.equal(info.io, 'net');
    assert.equal(info.ioUring, false);
    assert.match(info.ioReason, /^node:net: /);
  });
}

interface ReceivedRequest {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /** Everything after client_id (for a v2 header this starts with its tagged-field byte). */
  rest: Buffer;
  /** Answers with `body` after the correlation id; responses still go out in request order. */
  reply(body: Buffer): void;
  /** No response will come from the broker for this one (acks=0, or the test writes raw bytes). */
  ignore(): void;
}

/**
 * A tiny broker on 127.0.0.1: it parses request frames (header v1 fields) and lets each test
 * decide what to answer and when. Like Kafka, it writes responses in the order the requests
 * arrived on a connection, however late each one is ready.
 */
class FakeBroker {
  private readonly server = net.createServer((s) => this.onConnection(s));
  readonly sockets: net.Socket[] = [];
  readonly requests: ReceivedRequest[] = [];
  connections = 0;
  /** Default: answer at once with an int32 echoing the correlation id. */
  onRequest: (req: ReceivedRequest) => void = (req) => req.reply(int32(req.correlationId));
  /** Called with each accepted socket before it is read (e.g. to pause it). */
  onAccept: (socket: net.Socket) => void = () => undefined;
  /** Chunking of the bytes the broker writes, to exercise frame reassembly. */
  writeChunkSize = Infinity;
  port = 0;

  async start(): Promise<void> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onConnection(socket: net.Socket): void {
    this.connections++;
    this.sockets.push(socket);
    let buffered = Buffer.alloc(0);
    const order: { ready: Buffer | null }[] = [];
    const flush = (): void => {
      while (order.length > 0 && order[0].ready !== null) this.write(socket, order.shift()!.ready as Buffer);
    };
    socket.on('error', () => undefined);
    this.onAccept(socket);
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
        const size = buffered.readInt32BE(0);
        const r = new Reader(buffered.subarray(4, 4 + size));
        buffered = buffered.subarray(4 + size);
        const apiKey = r.int16();
        const apiVersion = r.int16();
        const correlationId = r.int32();
        const clientId = r.nullableString();
        const slot = { ready: null as Buffer | null };
        order.push(slot);
        const req: ReceivedRequest = {
          apiKey,
          apiVersion,
          correlationId,
          clientId,
          rest: Buffer.from(r.raw(r.remaining)),
          reply: (body) => {
            const frame = Buffer.alloc(8);
            frame.writeInt32BE(4 + body.length, 0);
            frame.writeInt32BE(correlationId, 4);
            slot.ready = Buffer.concat([frame, body]);
            flush();
          },
          ignore: () => {
            slot.ready = Buffer.alloc(0);
            flush();
          },
        };
        this.requests.push(req);
        this.onRequest(req);
      }
    });
  }

  write(socket: net.Socket, bytes: Buffer): void {
    for (let i = 0; i < bytes.length; i += this.writeChunkSize) socket.write(bytes.subarray(i, i + this.writeChunkSize));
  }
}

const int32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v, 0);
  return b;
};
const readInt32 = (_version: number, r: Reader): number => r.int32();

async function freePort(): Promise<number> {
  const s = net.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function waitFor(cond: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

for (const { name: transportName, make } of transports)
describe(`BrokerConnection over ${transportName}`, () => {
  let broker: FakeBroker;
  let conn: BrokerConnection;
  let transport: Transport;
  const options = (over: Partial<BrokerConnectionOptions> = {}): BrokerConnectionOptions => ({
    transport,
    host: '127.0.0.1',
    port: broker.port,
    clientId: 'test-client',
    nodeId: 1,
    maxInFlight: 5,
    requestTimeoutMs: 2000,
    connectTimeoutMs: 1000,
    reconnectBackoffMs: 50,
    reconnectBackoffMaxMs: 400,
    ...over,
  });

  beforeEach(async () => {
    transport = make();
    broker = new FakeBroker();
    await broker.start();
  });

  afterEach(async () => {
    await conn?.close();
    await broker.stop();
    // No socket is left behind on the ring (one the connection dropped itself -- a timeout, a
    // corrupt stream -- finishes closing a poll cycle later, as a destroyed net.Socket does).
    const ring = transport;
    if (ring instanceof UringTransport) await waitFor(() => ring.openSockets() === 0, 'ring sockets to close');
  });

  it('a 1 MiB request of 64 chunks arrives whole, and its 1 MiB response is reassembled', async () => {
    broker.onRequest = (req) => req.reply(req.rest);
    conn = new BrokerConnection(options());
    await conn.connect();
    const chunks = Array.from({ length: 64 }, (_, i) => Buffer.alloc(16 * 1024, i + 1));
    const echoed = await conn.request(3, 1, false, chunks, (_v, r) => r.raw(r.remaining));
    assert.equal(broker.requests.length, 1);
    // The header's client_id is followed by the body as the broker read it.
    assert.ok(broker.requests[0].rest.equals(Buffer.concat(chunks)), 'the broker read the chunks in order');
    assert.ok((echoed as Buffer).equals(Buffer.concat(chunks)), 'the response came back whole');
  });

  it('requestWith(): each response goes to its own request\'s handler, in order (three answered in one write)', async () => {
    let release: (() => void) | null = null;
    const held: ReceivedRequest[] = [];
    broker.onRequest = (req) => {
      held.push(req);
      if (held.length === 3) release = () => held.forEach((r) => r.reply(int32(r.correlationId * 10)));
    };
    conn = new BrokerConnection(options());
    await conn.connect();
    const seen: number[] = [];
    const done = new Promise<void>((resolve, reject) => {
      for (let i = 0; i < 3; i++) {
        conn.requestWith(3, 1, false, Buffer.alloc(8), readInt32, {
          onResponse: (v) => {
            seen.push(v);
            if (seen.length === 3) resolve();
          },
          onError: reject,
        });
      }
    });
    await waitFor(() => release !== null, 'three requests at the broker');
    release!();
    await done;
    assert.deepEqual(seen, [0, 10, 20]);
  });

  it('requestWith(): a refused request and a lost connection reach onError from a microtask, never inside the call', async () => {
    conn = new BrokerConnection(options());
    let inside = true;
    const refused = new Promise<Error>((resolve) => {
      conn.requestWith(3, 1, false, Buffer.alloc(4), readInt32, {
        onResponse: () => assert.fail('no response while not connected'),
        onError: (err) => {
          assert.equal(inside, false, 'onError ran inside requestWith()');
          resolve(err);
        },
      });
    });
    inside = false;
    const err = await refused;
    assert.ok(err instanceof KafkaJSConnectionError);
    assert.equal((err as KafkaJSConnectionError & { code?: string }).code, 'ENOTCONN');

    broker.onRequest = () => undefined; // never answered
    await conn.connect();
    let closing = true;
    const lost = new Promise<Error>((resolve) => {
      conn.requestWith(3, 1, false, Buffer.alloc(4), readInt32, {
        onResponse: () => assert.fail('no response was sent'),
        onError: (e) => {
          assert.equal(closing, false, 'onError ran inside close()');
          resolve(e);
        },
      });
    });
    await waitFor(() => broker.requests.length === 1, 'the request at the broker');
    const closed = conn.close();
    closing = false;
    assert.ok((await lost) instanceof KafkaJSConnectionError);
    await closed;
  });

  it('requestWith(): a handler that throws is reported as uncaught and the connection reads on', async () => {
    conn = new BrokerConnection(options());
    await conn.connect();
    const uncaught: unknown[] = [];
    const listeners = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', (e) => uncaught.push(e));
    try {
      conn.requestWith(3, 1, false, Buffer.alloc(4), readInt32, {
        onResponse: () => {
          throw new Error('handler bug');
        },
        onError: () => assert.fail('a throwing handler is not a failed request'),
      });
      const next = await conn.request(3, 1, false, Buffer.alloc(4), readInt32);
      assert.equal(next, 1, 'the next response on the same connection arrives');
      await waitFor(() => uncaught.length === 1, 'the handler error reported');
      assert.match((uncaught[0] as Error).message, /handler bug/);
      assert.equal(conn.isConnected(), true);
    } finally {
      process.removeAllListeners('uncaughtException');
      for (const l of listeners) process.on('uncaughtException', l);
    }
  });

  it('pipelined requests written in one corked batch all get their own answers', async () => {
    conn = new BrokerConnection(options({ maxInFlight: 5 }));
    await conn.connect();
    const body = Buffer.alloc(3000, 7);
    const answers = await Promise.all(Array.from({ length: 40 }, () => conn.request(3, 1, false, [body, body], readInt32)));
    assert.deepEqual(answers, Array.from({ length: 40 }, (_, i) => i));
    assert.ok(broker.requests.every((r) => r.rest.length === 6000));
  });

  it('connection loss in the middle of a request fails it retriably, and a new connection works', async () => {
    // The broker hangs up after reading part of a large request.
    let seen = 0;
    broker.onAccept = (s) => {
      if (broker.connections > 1) return;
      s.on('data', (d: Buffer) => {
        seen += d.length;
        if (seen > 100_000) s.destroy();
      });
    };
    conn = new BrokerConnection(options());
    await conn.connect();
    const big = Array.from({ length: 32 }, () => Buffer.alloc(32 * 1024, 3));
    await assert.rejects(conn.request(3, 1, false, big, readInt32), (err: unknown) => {
      assert.ok(err instanceof KafkaJSConnectionError);
      assert.equal(err.retriable, true);
      return true;
    });
    assert.equal(conn.isConnected(), false);
    await conn.connect();
    assert.equal(await conn.request(3, 1, false, Buffer.alloc(10), readInt32), 1);
  });

  it('connects once for concurrent callers and reports isConnected()', async () => {
    conn = new BrokerConnection(options());
    assert.equal(conn.isConnected(), false);
    const a = conn.connect();
    const b = conn.connect();
    assert.equal(a, b, 'concurrent callers share one attempt');
    await Promise.all([a, b]);
    await conn.connect();
    assert.equal(conn.isConnected(), true);
    await waitFor(() => broker.connections === 1, 'the connection');
    assert.equal(broker.connections, 1);
  });

  it('frames requests and assigns correlation ids in order', async () => {
    conn = new BrokerConnection(options());
    await conn.connect();
    const results = await Promise.all([
      conn.request(3, 1, false, Buffer.from('aa', 'hex'), readInt32),
      conn.request(18, 3, true, [Buffer.from('bb', 'hex'), Buffer.from('cc', 'hex')], readInt32, { responseHeaderV0: true }),
      conn.request(0, 9, true, [], null),
    ]);
    // The default broker echoes the correlation id; a flexible response header carries tags.
    assert.deepEqual(results.slice(0, 2), [0, 1]);
    assert.deepEqual(
      broker.requests.map((r) => [r.apiKey, r.apiVersion, r.correlationId, r.clientId, r.rest.toString('hex')]),
      [
        [3, 1, 0, 'test-client', 'aa'],
        [18, 3, 1, 'test-client', '00bbcc'], // v2 header: empty tags, then both body chunks
        [0, 9, 2, 'test-client', '00'],
      ],
    );
  });

  it('skips response header v1 tagged fields for flexible requests', async () => {
    broker.onRequest = (req) => req.reply(Buffer.concat([Buffer.from('01' + '02' + '01' + 'ff', 'hex'), int32(77)]));
    conn = new BrokerConnection(options());
    await conn.connect();
    assert.equal(await conn.request(3, 12, true, Buffer.from('00', 'hex'), readInt32), 77);
  });

  it('keeps at most maxInFlight requests on the wire; the rest wait in order', async () => {
    const held: ReceivedRequest[] = [];
    broker.onRequest = (req) => held.push(req);
    conn = new BrokerConnection(options({ maxInFlight: 2 }));
    const queueSizes: number[] = [];
    conn.on('request_queue_size', (e: RequestQueueSizeEvent) => {
      assert.equal(e.broker, `127.0.0.1:${broker.port}`);
      assert.equal(e.clientId, 'test-client');
      queueSizes.push(e.queueSize);
    });
    await conn.connect();
    const done: number[] = [];
    const all = [0, 1, 2, 3, 4].map((i) => conn.request(3, 1, false, int32(i), readInt32).then((v) => done.push(v)));
    await waitFor(() => held.length === 2, 'two requests');
    await sleep(50);
    assert.equal(held.length, 2, 'only two requests in flight');
    held[0].reply(int32(100));
    await waitFor(() => held.length === 3, 'a third request once a slot frees up');
    await sleep(30);
    assert.equal(held.length, 3);
    for (let i = 1; i < 5; i++) {
      await waitFor(() => held.length > i, `request ${i}`);
      held[i].reply(int32(100 + i));
    }
    await Promise.all(all);
    assert.deepEqual(done, [100, 101, 102, 103, 104]);
    assert.deepEqual(held.map((r) => r.correlationId), [0, 1, 2, 3, 4]);
    assert.deepEqual(queueSizes, [1, 2, 3, 2, 1, 0]);
  });

  it('answers ready out of order in time still resolve in order, whatever the TCP chunking', async () => {
    // Later requests are answered sooner; the broker still writes responses in request order.
    broker.onRequest = (req) => {
      const delay = 60 - req.correlationId * 10;
      setTimeout(() => req.reply(int32(req.correlationId * 1000)), delay);
    };
    broker.writeChunkSize = 3; // frames split mid-length-prefix and mid-body
    conn = new BrokerConnection(options());
    await conn.connect();
    const order: number[] = [];
    const values = await Promise.all(
      [0, 1, 2, 3, 4].map((i) =>
        conn.request(3, 1, false, Buffer.alloc(0), readInt32).then((v) => {
          order.push(i);
          return v;
        }),
      ),
    );
    assert.deepEqual(values, [0, 1000, 2000, 3000, 4000]);
    assert.deepEqual(order, [0, 1, 2, 3, 4]);
  });

  it('reads several frames from one chunk and a large frame from many', async () => {
    const big = Buffer.alloc(300_000, 0xab);
    broker.onRequest = (req) => {
      if (req.correlationId < 3) req.ignore(); // answered below with raw bytes, all in one write
      else req.reply(big);
    };
    conn = new BrokerConnection(options());
    await conn.connect();
    const small = [0, 1, 2].map(() => conn.request(3, 1, false, Buffer.alloc(0), readInt32));
    await waitFor(() => broker.requests.length === 3, 'three requests');
    const frames = broker.requests.map((r) => Buffer.concat([int32(8), int32(r.correlationId), int32(r.correlationId + 7)]));
    broker.sockets[0].write(Buffer.concat(frames));
    assert.deepEqual(await Promise.all(small), [7, 8, 9]);
    const got = await conn.request(3, 1, false, Buffer.alloc(0), (_v, r) => r.raw(r.remaining));
    assert.equal(got.length, big.length);
    assert.ok(got.equals(big));
  });

  it('a request timeout drops the connection: in-flight requests fail retriably, the next goes on a new socket', async () => {
    // A half-open peer: it reads every request and never answers.
    broker.onRequest = () => undefined;
    conn = new BrokerConnection(options({ requestTimeoutMs: 100 }));
    const timeouts: RequestTimeoutEvent[] = [];
    conn.on('request_timeout', (e: RequestTimeoutEvent) => timeouts.push(e));
    await conn.connect();
    const started = Date.now();
    const slow = conn.request(3, 1, false, Buffer.alloc(0), readInt32);
    await waitFor(() => broker.requests.length === 1, 'the first request');
    // Sent 40 ms later: its own deadline has not passed when the first one times out.
    await sleep(40);
    const behind = conn.request(0, 3, false, Buffer.alloc(0), readInt32);
    await waitFor(() => broker.requests.length === 2, 'the second request');
    assert.equal(conn.outstandingRequests, 2);
    const peerClosed = once(broker.sockets[0], 'close');
    await assert.rejects(slow, (err: unknown) => {
      assert.ok(err instanceof KafkaJSRequestTimeoutError);
      assert.equal(err.name, 'KafkaJSRequestTimeoutError');
      assert.equal(err.retriable, true);
      assert.equal(err.broker, `127.0.0.1:${broker.port}`);
      assert.equal(err.correlationId, 0);
      assert.ok(err.sentAt >= err.createdAt);
      assert.equal(err.pendingDuration, err.sentAt - err.createdAt);
      assert.match(err.message, /Request Metadata\(key: 3, version: 1\) .* timed out after 100ms/);
      return true;
    });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 90, `timed out after ${elapsed}ms`);
    // Java's NetworkClient disconnects the node on a request timeout: everything else in flight
    // on it fails with a retriable connection error, and the socket is gone.
    await assert.rejects(behind, (err: unknown) => {
      assert.ok(err instanceof KafkaJSConnectionError);
      assert.equal(err.retriable, true);
      assert.match(err.message, /dropped after request 0 timed out/);
      return true;
    });
    assert.equal(conn.isConnected(), false);
    assert.equal(conn.outstandingRequests, 0);
    await peerClosed;
    assert.deepEqual(timeouts.map((e) => [e.correlationId, e.apiName, e.apiKey, e.apiVersion, e.clientId]), [
      [0, 'Metadata', 3, 1, 'test-client'],
    ]);
    // The next request goes out on a fresh connection.
    broker.onRequest = (req) => req.reply(int32(req.correlationId));
    await conn.connect();
    assert.equal(await conn.request(3, 1, false, Buffer.alloc(0), readInt32), 2);
    assert.equal(broker.connections, 2);
    assert.equal(broker.requests[2].correlationId, 2);
  });

  it('a late answer to a timed-out request never reaches the new connection', async () => {
    const held: ReceivedRequest[] = [];
    broker.onRequest = (req) => held.push(req);
    conn = new BrokerConnection(options({ maxInFlight: 1, requestTimeoutMs: 80 }));
    await conn.connect();
    const first = conn.request(3, 1, false, Buffer.alloc(0), readInt32);
    await assert.rejects(first, KafkaJSRequestTimeoutError);
    // The in-flight slot is not held by the timed-out request: a new socket takes the next one.
    await conn.connect();
    const second = conn.request(3, 1, false, Buffer.alloc(0), readInt32);
    await waitFor(() => held.length === 2, 'the second request');
    held[0].reply(int32(1)); // written to the old, closed socket: lost
    held[1].reply(int32(2));
    assert.equal(await second, 2);
    assert.equal(broker.connections, 2);
  });

  it('times out requests still waiting in the queue, with sentAt 0', async () => {
    broker.onRequest = () => undefined; // never answers
    conn = new BrokerConnection(options({ maxInFlight: 1, requestTimeoutMs: 80 }));
    await conn.connect();
    // Both created in the same millisecond, so both deadlines pass in the same timer tick.
    const realNow = Date.now;
    const frozen = realNow();
    Date.now = () => frozen;
    let first: Promise<number>;
    let queued: Promise<number>;
    try {
      first = conn.request(3, 1, false, Buffer.alloc(0), readInt32);
      queued = conn.request(3, 1, false, Buffer.alloc(0), readInt32);
    } finally {
      Date.now = realNow;
    }
    await Promise.all([
      assert.rejects(first, KafkaJSRequestTimeoutError),
      assert.rejects(queued, (err: unknown) => {
        assert.ok(err instanceof KafkaJSRequestTimeoutError);
        assert.equal(err.sentAt, 0);
        assert.match(err.message, /without being sent/);
        return true;
      }),
    ]);
    assert.equal(broker.requests.length, 1);
  });

  it('an acks=0 write that never drains fails after requestTimeoutMs and drops the connection', async () => {
    // The peer stops reading, so the kernel buffers fill and the write never completes.
    broker.onAccept = (s) => s.pause();
    conn = new BrokerConnection(options({ requestTimeoutMs: 150 }));
    await conn.connect();
    await waitFor(() => broker.sockets.length === 1, 'the connection');
    const big = Buffer.alloc(64 * 1024 * 1024);
    const write = conn.request(0, 3, false, big, null, { expectResponse: false });
    assert.equal(conn.outstandingRequests, 1);
    const outcome = await Promise.race([
      write.then(
        () => 'written',
        (err: Error) => err,
      ),
      sleep(3000).then(() => 'still pending after 3 s'),
    ]);
    assert.ok(outcome instanceof KafkaJSRequestTimeoutError, `got ${String(outcome)}`);
    assert.match(outcome.message, /Produce\(key: 0, version: 3\) .* timed out after 150ms/);
    assert.equal(conn.isConnected(), false);
    assert.equal(conn.outstandingRequests, 0);
  });

  it('outstandingRequests counts requests in flight and queued', async () => {
    const held: ReceivedRequest[] = [];
    broker.onRequest = (req) => held.push(req);
    conn = new BrokerConnection(options({ maxInFlight: 1 }));
    assert.equal(conn.outstandingRequests, 0);
    await conn.connect();
    const a = conn.request(3, 1, false, Buffer.alloc(0), readInt32);
    const b = conn.request(3, 1, false, Buffer.alloc(0), readInt32);
    assert.equal(conn.outstandingRequests, 2);
    await waitFor(() => held.length === 1, 'the first request');
    held[0].reply(int32(1));
    assert.equal(await a, 1);
    assert.equal(conn.outstandingRequests, 1);
    await waitFor(() => held.length === 2, 'the second request');
    held[1].reply(int32(2));
    assert.equal(await b, 2);
    assert.equal(conn.outstandingRequests, 0);
  });

  it('emits a request event per completed request', async () => {
    conn = new BrokerConnection(options());
    const events: RequestEvent[] = [];
    conn.on('request', (e: RequestEvent) => events.push(e));
    await conn.connect();
    await conn.request(0, 3, false, Buffer.alloc(0), readInt32);
    assert.equal(events.length, 1);
    const e = events[0];
    assert.equal(e.broker, `127.0.0.1:${broker.port}`);
    assert.equal(e.clientId, 'test-client');
    assert.equal(e.correlationId, 0);
    assert.equal(e.size, 8); // correlation id + int32 body
    assert.equal(e.apiName, 'Produce');
    assert.equal(e.apiKey, 0);
    assert.equal(e.apiVersion, 3);
    assert.equal(e.pendingDuration, e.sentAt - e.createdAt);
    assert.ok(e.duration >= 0);
  });

  it('expectResponse=false resolves with null once written and takes no response', async () => {
    broker.onRequest = (req) => {
      if (req.apiKey === 0) req.ignore();
      else req.reply(int32(req.correlationId));
    };
    conn = new BrokerConnection(options({ maxInFlight: 1 }));
    const events: RequestEvent[] = [];
    conn.on('request', (e: RequestEvent) => events.push(e));
    await conn.connect();
    const fire = await conn.request(0, 3, false, Buffer.from('0000', 'hex'), readInt32, { expectResponse: false });
    assert.equal(fire, null);
    // a fire-and-forget request does not hold the single in-flight slot
    const [a, b] = await Promise.all([
      conn.request(3, 1, false, Buffer.alloc(0), readInt32),
      conn.request(0, 3, false, Buffer.alloc(0), null, { expectResponse: false }),
    ]);
    assert.equal(a, 1);
    assert.equal(b, null);
    await waitFor(() => broker.requests.length === 3, 'all three requests');
    assert.deepEqual(broker.requests.map((r) => r.correlationId), [0, 1, 2]);
    // fire-and-forget requests report size 0: there is no response
    const bySize = events.map((e) => [e.correlationId, e.size]).sort((x, y) => x[0] - y[0]);
    assert.deepEqual(bySize, [[0, 0], [1, 8], [2, 0]]);
  });

  it('rejects with a retriable ConnectionError (code ECONNREFUSED) and backs off before retrying', async () => {
    const port = await freePort();
    conn = new BrokerConnection(options({ port, reconnectBackoffMs: 100, reconnectBackoffMaxMs: 1000 }));
    // The backoff runs from the end of a failed attempt to the start of the next one: time
    // exactly that, at the socket attempts themselves (the private open()), not around the
    // test's own awaits, which a slow machine (qemu) stretches by tens of milliseconds.
    const attempts: { start: number; end: number }[] = [];
    const spied = conn as unknown as { open(): Promise<unknown> };
    const open = spied.open.bind(conn);
    spied.open = () => {
      const a = { start: Date.now(), end: -1 };
      attempts.push(a);
      return open().finally(() => (a.end = Date.now()));
    };
    await assert.rejects(conn.connect(), (err: unknown) => {
      assert.ok(err instanceof KafkaJSConnectionError);
      assert.equal(err.code, 'ECONNREFUSED');
      assert.equal(err.retriable, true);
      assert.equal(err.broker, `127.0.0.1:${port}`);
      assert.match(err.message, /Failed to connect to 127\.0\.0\.1:\d+/);
      return true;
    });
    await assert.rejects(conn.connect(), KafkaJSConnectionError);
    await assert.rejects(conn.connect(), KafkaJSConnectionError);
    assert.equal(attempts.length, 3);
    // 100 ms then 200 ms, each jittered by ±20% (1 ms for Date.now()'s rounding).
    const waited = attempts[1]!.start - attempts[0]!.end;
    assert.ok(waited >= 79, `second attempt waited ${waited}ms, expected about 100ms (±20%)`);
    const waited3 = attempts[2]!.start - attempts[1]!.end;
    assert.ok(waited3 >= 159, `third attempt waited ${waited3}ms, expected about 200ms (±20%)`);
  });

  it('close() during the backoff wait aborts the attempt', async () => {
    const port = await freePort();
    conn = new BrokerConnection(options({ port, reconnectBackoffMs: 5000, reconnectBackoffMaxMs: 5000 }));
    await assert.rejects(conn.connect(), KafkaJSConnectionError);
    const waiting = conn.connect();
    await sleep(20);
    const started = Date.now();
    await conn.close();
    await assert.rejects(waiting, /closed while connecting/);
    assert.ok(Date.now() - started < 1000);
  });

  it('request() when not connected rejects at once', async () => {
    conn = new BrokerConnection(options());
    await assert.rejects(conn.request(3, 1, false, Buffer.alloc(0), readInt32), (err: unknown) => {
      assert.ok(err instanceof KafkaJSConnectionError);
      assert.equal(err.code, 'ENOTCONN');
      return true;
    });
  });

  it('close() fails pending and queued requests with a clear error', async () => {
    broker.onRequest = () => undefined;
    conn = new BrokerConnection(options({ maxInFlight: 1 }));
    await conn.connect();
    const inFlight = conn.request(3, 1, false, Buffer.alloc(0), readInt32);
    const queued = conn.request(3, 1, false, Buffer.alloc(0), readInt32);
    const failures = [inFlight, queued].map((p) =>
      assert.rejects(p, (err: unknown) => {
        assert.ok(err instanceof KafkaJSConnectionError);
        assert.equal(err.retriable, true);
        assert.match(err.message, /was closed by the client/);
        return true;
      }),
    );
    await waitFor(() => broker.requests.length === 1, 'the first request');
    await conn.close();
    await Promise.all(failures);
    assert.equal(conn.isConnected(), false);
  });

  it('a closed connection refuses to connect again, with a clear error', async () => {
    conn = new BrokerConnection(options());
    await conn.connect();
    await conn.close();
    await assert.rejects(conn.connect(), (err: unknown) => {
      assert.ok(err instanceof KafkaJSConnectionError);
      assert.equal(err.code, 'ECONNCLOSED');
      assert.match(err.message, /was closed by the client and cannot be reopened/);
      return true;
    });
    await assert.rejects(conn.request(3, 1, false, Buffer.alloc(0), readInt32), /was closed by the client/);
    await sleep(50);
    assert.equal(broker.connections, 1, 'no new socket was opened');
  });

  it('close() while a connect is in progress destroys the socket being opened', async () => {
    conn = new BrokerConnection(options({ connectTimeoutMs: 5000 }));
    // connect() opens the socket synchronously; close() comes before it has connected.
    const connecting = conn.connect();
    const started = Date.now();
    await conn.close();
    await assert.rejects(connecting, /closed while connecting/);
    assert.ok(Date.now() - started < 1000);
    await sleep(50);
    assert.equal(conn.isConnected(), false);
    // The attempt never produced a connection the client kept.
    for (const s of broker.sockets) await waitFor(() => s.closed || s.destroyed, 'the peer socket to close');
  });

  it('a broker that drops the connection fails in-flight requests with a ConnectionError', async () => {
    broker.onRequest = (req) => {
      if (req.correlationId === 1) broker.sockets[0].destroy();
    };
    conn = new BrokerConnection(options());
    await conn.connect();
    const a = conn.request(3, 1, false, Buffer.alloc(0), readInt32);
    const b = conn.request(3, 1, false, Buffer.alloc(0), readInt32);
    await Promise.all([a, b].map((p) => assert.rejects(p, KafkaJSConnectionError)));
    assert.equal(conn.isConnected(), false);
    await conn.connect();
    broker.onRequest = (req) => req.reply(int32(5));
    assert.equal(await conn.request(3, 1, false, Buffer.alloc(0), readInt32), 5);
  });

  it('a response with the wrong correlation id drops the connection', async () => {
    broker.onRequest = (req) => broker.write(broker.sockets[0], Buffer.concat([int32(8), int32(req.correlationId + 1), int32(0)]));
    conn = new BrokerConnection(options());
    await conn.connect();
    await assert.rejects(conn.request(3, 1, false, Buffer.alloc(0), readInt32), /where 0 was expected; connection dropped/);
    assert.equal(conn.isConnected(), false);
  });

  it('a decoder error rejects that request only', async () => {
    conn = new BrokerConnection(options());
    await conn.connect();
    await assert.rejects(
      conn.request(3, 1, false, Buffer.alloc(0), (_v, r) => r.int64()),
      /Failed to decode Metadata v1 response from 127\.0\.0\.1:\d+: Truncated input reading int64/,
    );
    assert.equal(await conn.request(3, 1, false, Buffer.alloc(0), readInt32), 1);
  });
});
