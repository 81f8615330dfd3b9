/**
 * Cluster and Broker against small scripted brokers on 127.0.0.1: which broker a metadata
 * request goes to, what happens to brokers that leave the metadata, close() while a fetch or
 * a handshake is under way, and the ApiVersions fallbacks. Each fake broker speaks just
 * ApiVersions (v0-v3) and Metadata v1 (the only Metadata version it advertises), answers in
 * request order per connection, and lets a test hold any request and answer it later.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidResponseError, ProducerClosedError } from '../../../ts/errors.js';
import { Cluster } from '../../../ts/producer/cluster.js';
import { resolveConfig, type ProducerConfig } from '../../../ts/producer/options.js';
import { ApiKey } from '../../../ts/protocol/api-keys.js';
import { Reader } from '../../../ts/protocol/reader.js';
import { Writer } from '../../../ts/protocol/writer.js';
import { assertNoHandlesAbove, handleCounts } from '../../helpers/handles.js';

interface Request {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  /** Answer with this body (after the correlation id; every response here uses header v0). */
  reply(body: Buffer): void;
}

/** What the fake brokers report in Metadata: node ids and ports, one topic's leaders. */
interface ClusterView {
  brokers: { nodeId: number; port: number }[];
  /** partition index -> leader node id */
  leaders: number[];
}

const TOPIC = 't';

class FakeBroker {
  private readonly server = net.createServer((s) => this.onConnection(s));
  readonly sockets: net.Socket[] = [];
  readonly requests: Request[] = [];
  port = 0;
  /** Decides each request: return a body to answer at once, or 'hold' (the test answers via
   * the request's reply(), or never). Default: ApiVersions and Metadata answered from `view`. */
  onRequest: (req: Request) => Buffer | 'hold' = (req) => this.answer(req);

  constructor(private readonly view: () => ClusterView) {}

  async start(): Promise<this> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Connections accepted so far. */
  get connections(): number {
    return this.sockets.length;
  }

  /** Connections still open on the broker's side. */
  get open(): number {
    return this.sockets.filter((s) => !s.destroyed).length;
  }

  count(apiKey: number): number {
    return this.requests.filter((r) => r.apiKey === apiKey).length;
  }

  answer(req: Request): Buffer {
    if (req.apiKey === ApiKey.ApiVersions) return apiVersionsResponse(req.apiVersion);
    if (req.apiKey === ApiKey.Metadata) return metadataV1(this.view());
    throw new Error(`the fake broker does not answer API ${req.apiKey} on its own`);
  }

  private onConnection(socket: net.Socket): void {
    this.sockets.push(socket);
    socket.on('error', () => undefined);
    // Kafka answers one connection's requests in the order they came: slots, filled when ready.
    const order: { bytes: Buffer | null }[] = [];
    const flush = (): void => {
      while (order.length > 0 && order[0].bytes !== null) {
        const bytes = order.shift()!.bytes!;
        if (!socket.destroyed) socket.write(bytes);
      }
    };
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
        const size = buffered.readInt32BE(0);
        const r = new Reader(buffered.subarray(4, 4 + size));
        buffered = buffered.subarray(4 + size);
        const apiKey = r.int16();
        const apiVersion = r.int16();
        const correlationId = r.int32();
        const slot = { bytes: null as Buffer | null };
        order.push(slot);
        const req: Request = {
          apiKey,
          apiVersion,
          correlationId,
          reply: (body) => {
            const head = Buffer.alloc(8);
            head.writeInt32BE(4 + body.length, 0);
            head.writeInt32BE(correlationId, 4);
            slot.bytes = Buffer.concat([head, body]);
            flush();
          },
        };
        this.requests.push(req);
        const out = this.onRequest(req);
        if (out !== 'hold') req.reply(out);
      }
    });
  }
}

/** ApiVersions response in the version asked: ApiVersions 0-3, Metadata 1-1, Produce 3-3. */
function apiVersionsResponse(version: number): Buffer {
  const keys: [number, number, number][] = [
    [ApiKey.Produce, 3, 3],
    [ApiKey.Metadata, 1, 1],
    [ApiKey.ApiVersions, 0, 3],
  ];
  const w = new Writer();
  w.int16(0);
  if (version >= 3) {
    w.uvarint(keys.length + 1);
    for (const [k, min, max] of keys) w.int16(k).int16(min).int16(max).emptyTaggedFields();
    w.int32(0).emptyTaggedFields();
  } else {
    w.int32(keys.length);
    for (const [k, min, max] of keys) w.int16(k).int16(min).int16(max);
    if (version >= 1) w.int32(0);
  }
  return w.finish();
}

/** Metadata v1 response: brokers, controller, one topic with its partitions' leaders. */
function metadataV1(view: ClusterView): Buffer {
  const w = new Writer();
  w.int32(view.brokers.length);
  for (const b of view.brokers) w.int32(b.nodeId).string('127.0.0.1').int32(b.port).string(null);
  w.int32(view.brokers[0]?.nodeId ?? -1);
  w.int32(1);
  w.int16(0).string(TOPIC).boolean(false);
  w.int32(view.leaders.length);
  view.leaders.forEach((leader, i) => {
    w.int16(0).int32(i).int32(leader);
    w.int32(1).int32(leader);
    w.int32(1).int32(leader);
  });
  return w.finish();
}

async function waitFor(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('Cluster', () => {
  let fakes: FakeBroker[] = [];
  let cluster: Cluster | undefined;
  let view: ClusterView;

  /** Starts n fake brokers (node ids 1..n) that all report `view`; leaders: node 1. */
  async function startBrokers(n: number): Promise<FakeBroker[]> {
    fakes = [];
    for (let i = 0; i < n; i++) fakes.push(await new FakeBroker(() => view).start());
    view = { brokers: fakes.map((f, i) => ({ nodeId: i + 1, port: f.port })), leaders: [1] };
    return fakes;
  }

  function newCluster(bootstrap: FakeBroker[], over: Partial<ProducerConfig> = {}): Cluster {
    cluster = new Cluster(
      resolveConfig({
        'bootstrap.servers': bootstrap.map((f) => `127.0.0.1:${f.port}`).join(','),
        'request.timeout.ms': 2000,
        'reconnect.backoff.ms': 20,
        ...over,
      }),
    );
    return cluster;
  }

  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
    for (const f of fakes) await f.stop();
  });

  describe('close()', () => {
    it('during a metadata fetch: no new socket after close, close resolves, nothing left active', async () => {
      const [a, b] = await startBrokers(2);
      const held: Request[] = [];
      for (const f of [a, b]) {
        f.onRequest = (req) => {
          if (req.apiKey !== ApiKey.Metadata) return f.answer(req);
          held.push(req);
          return 'hold';
        };
      }
      const baseline = handleCounts();
      const c = newCluster([a, b]);
      const refreshed = c.refresh([TOPIC]);
      const outcome = refreshed.then(
        () => 'resolved',
        (err: Error) => err,
      );
      await waitFor(() => held.length === 1, 'the Metadata request');
      const connectionsAtClose = a.connections + b.connections;
      assert.equal(connectionsAtClose, 1);
      await c.close();
      // The broker answers after all; nobody may act on it.
      held[0].reply(metadataV1(view));
      const err = await outcome;
      assert.ok(err instanceof ProducerClosedError, `refresh() settled with ${String(err)}`);
      await sleep(100);
      assert.equal(a.connections + b.connections, connectionsAtClose, 'a socket was opened after close()');
      assert.equal(c.brokers.size, 0, 'no broker was created from an answer that came after close()');
      await assertNoHandlesAbove(baseline);
    });

    it('during the ApiVersions handshake: no new socket after close, nothing left active', async () => {
      const [a, b] = await startBrokers(2);
      const held: Request[] = [];
      for (const f of [a, b]) {
        f.onRequest = (req) => {
          held.push(req);
          return 'hold';
        };
      }
      const baseline = handleCounts();
      const c = newCluster([a, b]);
      const outcome = c.refresh([TOPIC]).then(
        () => 'resolved',
        (err: Error) => err,
      );
      await waitFor(() => held.length === 1, 'the ApiVersions request');
      await c.close();
      held[0].reply(apiVersionsResponse(held[0].apiVersion));
      assert.ok((await outcome) instanceof ProducerClosedError);
      await sleep(100);
      assert.equal(a.connections + b.connections, 1, 'a socket was opened after close()');
      await assertNoHandlesAbove(baseline);
    });

    it('refresh() after close() rejects without connecting', async () => {
      const [a] = await startBrokers(1);
      const c = newCluster([a]);
      await c.close();
      await assert.rejects(c.refresh([TOPIC]), ProducerClosedError);
      await sleep(50);
      assert.equal(a.connections, 0);
    });
  });

  describe('brokers that leave the metadata', () => {
    it('are removed and closed; one with a request in flight is closed once it completes', async () => {
      const [, second, third] = await startBrokers(3);
      const c = newCluster(fakes);
      await c.refresh([TOPIC]);
      assert.deepEqual([...c.brokers.keys()].sort(), [1, 2, 3]);
      const b2 = c.broker(2)!;
      const b3 = c.broker(3)!;
      await Promise.all([b2.ensureReady(), b3.ensureReady()]);
      // A Produce held by broker 3: in flight when the broker leaves the metadata.
      let heldProduce: Request | undefined;
      third.onRequest = (req) => {
        if (req.apiKey !== ApiKey.Produce) return third.answer(req);
        heldProduce = req;
        return 'hold';
      };
      const produce = b3.conn.request(ApiKey.Produce, 3, false, Buffer.alloc(0), (_v, r) => r.int32());
      await waitFor(() => heldProduce !== undefined, 'the Produce request');

      view = { ...view, brokers: view.brokers.filter((b) => b.nodeId === 1) };
      await c.refresh();
      assert.deepEqual([...c.brokers.keys()], [1]);
      assert.equal(c.broker(2), undefined);
      assert.equal(c.broker(3), undefined);
      await waitFor(() => second.open === 0, "broker 2's connection to close");
      await sleep(50);
      assert.equal(third.open, 1, 'broker 3 keeps its connection while the Produce is in flight');

      heldProduce!.reply(Buffer.from('0000002a', 'hex'));
      assert.equal(await produce, 42, 'the request in flight completes normally');
      await waitFor(() => third.open === 0, "broker 3's connection to close after its request completed");
      // Metadata now goes to the broker still listed.
      const before = fakes[0].count(ApiKey.Metadata);
      await c.refresh();
      assert.equal(fakes[0].count(ApiKey.Metadata), before + 1);
    });

    it('the bootstrap connection is retired once the listed brokers answer', async () => {
      const [a] = await startBrokers(1);
      const c = newCluster([a]);
      await c.refresh([TOPIC]); // over the bootstrap connection
      await c.refresh(); // over node 1's own connection
      await waitFor(() => a.open === 1, 'only one connection left open');
      assert.equal(a.connections, 2);
    });
  });

  describe('leastLoadedBroker() and where metadata requests go', () => {
    it('a metadata refresh skips a broker stuck behind a held Produce', async () => {
      const [first, second] = await startBrokers(2);
      const c = newCluster(fakes);
      await c.refresh([TOPIC]);
      await Promise.all([c.broker(1)!.ensureReady(), c.broker(2)!.ensureReady()]);
      first.onRequest = (req) => (req.apiKey === ApiKey.Produce ? 'hold' : first.answer(req));
      second.onRequest = (req) => (req.apiKey === ApiKey.Produce ? 'hold' : second.answer(req));
      const held = c.broker(1)!.conn.request(ApiKey.Produce, 3, false, Buffer.alloc(0), null);
      held.catch(() => undefined); // failed by close() at the end
      await waitFor(() => first.count(ApiKey.Produce) === 1, 'the Produce request');
      assert.equal(c.broker(1)!.conn.outstandingRequests, 1);

      for (let i = 0; i < 10; i++) assert.equal(c.leastLoadedBroker(), c.broker(2), 'whatever broker the search starts at');
      const m1 = first.count(ApiKey.Metadata);
      const m2 = second.count(ApiKey.Metadata);
      await c.refresh();
      assert.equal(first.count(ApiKey.Metadata), m1, 'no metadata request queued behind the held Produce');
      assert.equal(second.count(ApiKey.Metadata), m2 + 1);
    });

    it('prefers a connected broker, then one connecting, then one that may connect; skips saturated ones', async () => {
      await startBrokers(2);
      const c = newCluster(fakes, { 'max.in.flight.requests.per.connection': 1 });
      assert.ok(c.leastLoadedBroker(), 'a bootstrap server before any metadata');
      assert.ok(c.leastLoadedBroker()!.nodeId < 0);
      await c.refresh([TOPIC]);
      // Neither node connected yet: either may be connected.
      assert.ok([1, 2].includes(c.leastLoadedBroker()!.nodeId));
      await c.broker(2)!.ensureReady();
      for (let i = 0; i < 10; i++) assert.equal(c.leastLoadedBroker()!.nodeId, 2, 'the connected one');
      // Broker 2 saturated (1 in flight = max.in.flight): broker 1, which may connect, wins.
      fakes[1].onRequest = (req) => (req.apiKey === ApiKey.Produce ? 'hold' : fakes[1].answer(req));
      c.broker(2)!.conn.request(ApiKey.Produce, 3, false, Buffer.alloc(0), null).catch(() => undefined);
      for (let i = 0; i < 10; i++) assert.equal(c.leastLoadedBroker()!.nodeId, 1);
      const connecting = c.broker(1)!.ensureReady();
      assert.equal(c.leastLoadedBroker()!.nodeId, 1, 'the one connecting');
      await connecting;
    });

    it('skips a broker in reconnect backoff', async () => {
      const [first] = await startBrokers(2);
      const c = newCluster(fakes, { 'reconnect.backoff.ms': 5000, 'reconnect.backoff.max.ms': 5000 });
      await c.refresh([TOPIC]);
      await first.stop(); // refuses connections from now on
      fakes = fakes.slice(1);
      await assert.rejects(c.broker(1)!.ensureReady(), /ECONNREFUSED|Failed to connect/);
      for (let i = 0; i < 10; i++) assert.equal(c.leastLoadedBroker()!.nodeId, 2);
    });

    it('a metadata refresh does not wait on a black-holed connection: it times out, drops it, asks another', async () => {
      const [first, second] = await startBrokers(2);
      const c = newCluster(fakes, { 'request.timeout.ms': 300 });
      await c.refresh([TOPIC]);
      await Promise.all([c.broker(1)!.ensureReady(), c.broker(2)!.ensureReady()]);
      // Both look idle; whichever is asked first swallows the request without answering.
      let blackHoled: FakeBroker | undefined;
      for (const f of [first, second]) {
        f.onRequest = (req) => {
          if (req.apiKey === ApiKey.Metadata && blackHoled === undefined) {
            blackHoled = f;
            return 'hold';
          }
          return f.answer(req);
        };
      }
      const before = [first.count(ApiKey.Metadata), second.count(ApiKey.Metadata)];
      const started = Date.now();
      await c.refresh();
      const took = Date.now() - started;
      assert.ok(blackHoled, 'one broker swallowed the request');
      const other = blackHoled === first ? second : first;
      assert.equal(other.count(ApiKey.Metadata), before[other === first ? 0 : 1] + 1, 'the other broker answered the refresh');
      assert.ok(took >= 250, `answered after ${took} ms, before the request timeout`);
      await waitFor(() => blackHoled!.open === 0, 'the black-holed connection to be dropped');
    });
  });

  describe('ApiVersions', () => {
    it("falls back to v0 when v3 is answered UNSUPPORTED_VERSION in librdkafka's malformed body", async () => {
      const [a] = await startBrokers(1);
      a.onRequest = (req) => {
        if (req.apiKey === ApiKey.ApiVersions && req.apiVersion === 3) {
          // As the mock cluster sent it: error 35, a 1-byte count, an entry without tags, throttle.
          return Buffer.from('0023' + '01' + '0012' + '0000' + '0002' + '00000000', 'hex');
        }
        return a.answer(req);
      };
      const c = newCluster([a]);
      await c.refresh([TOPIC]);
      const versions = a.requests.filter((r) => r.apiKey === ApiKey.ApiVersions).map((r) => r.apiVersion);
      assert.deepEqual(versions.slice(0, 2), [3, 0]);
      assert.equal(c.topics.get(TOPIC)?.partitions.length, 1);
    });

    it('retries with the ApiVersions version the broker lists with UNSUPPORTED_VERSION', async () => {
      const [a] = await startBrokers(1);
      a.onRequest = (req) => {
        if (req.apiKey === ApiKey.ApiVersions && req.apiVersion === 3) {
          return Buffer.from('0023' + '00000001' + '0012' + '0000' + '0002', 'hex');
        }
        return a.answer(req);
      };
      const c = newCluster([a]);
      await c.refresh([TOPIC]);
      assert.deepEqual(
        a.requests.filter((r) => r.apiKey === ApiKey.ApiVersions).map((r) => r.apiVersion).slice(0, 2),
        [3, 2],
      );
    });

    it('a response that does not decode fails the refresh at once with InvalidResponseError', async () => {
      const [a, b] = await startBrokers(2);
      for (const f of [a, b]) {
        f.onRequest = (req) =>
          req.apiKey === ApiKey.ApiVersions ? Buffer.from('0000' + '05' + '00', 'hex') : f.answer(req);
      }
      const c = newCluster([a, b], { 'request.timeout.ms': 5000 });
      const started = Date.now();
      await assert.rejects(c.refresh([TOPIC]), (err: unknown) => {
        assert.ok(err instanceof InvalidResponseError, `got ${String(err)}`);
        assert.equal(err.name, 'InvalidResponseError');
        assert.equal(err.code, 'INVALID_RESPONSE');
        assert.equal(err.retriable, false);
        assert.equal(err.apiKey, ApiKey.ApiVersions);
        assert.match(err.message, /Failed to decode ApiVersions v3 response from 127\.0\.0\.1:\d+/);
        return true;
      });
      assert.ok(Date.now() - started < 2000);
      assert.equal(c.lastError?.name, 'InvalidResponseError');
    });
  });
});
