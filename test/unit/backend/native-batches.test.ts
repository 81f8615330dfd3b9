/**
 * Drained batches stay native on the io_uring transport (issue 15, item 2): a drained batch of
 * 4 KiB or more is kept in the addon's memory under a ref (no Buffer), the ring writes it from
 * there, a retry after an epoch bump is restamped natively, and the memory lives until both
 * the sender is done with it (complete / destroy) and no ring write still reads it. Each test
 * checks that the batch really was held (memoryStats().heldBatches), so each fails on the code
 * before the feature. Runs where io_uring is allowed.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import { after, afterEach, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createFallbackBackend } from '../../../ts/backend/fallback/index.js';
import { loadNativeAddon } from '../../../ts/backend/native.js';
import { createNativeBackend } from '../../../ts/backend/native-backend.js';
import { CodecId, type Backend, type RecordAccumulator } from '../../../ts/backend/types.js';
import { UringTransport, type UringSocket } from '../../../ts/net/transport-uring.js';
import { Producer } from '../../../ts/producer/producer.js';
import { encodeProduceChunks, isHeldRecords, Produce, type RequestChunk } from '../../../ts/protocol/produce.js';
import { restampProducerState } from '../../../ts/protocol/record-batch.js';
import { useBackend } from '../../helpers/backends.js';
import { loopbackServer } from '../../helpers/loopback-server.js';
import { ApiKey, ErrorCode, FakeCluster, waitFor } from '../../helpers/fake-cluster.js';

const addon = loadNativeAddon();
const refusal = typeof addon.ioUringProbe === 'function' ? addon.ioUringProbe() : 'no io_uring in this build';

const CONFIG = { batchSize: 1 << 20, lingerMs: 0, bufferMemory: 64 << 20, codec: CodecId.None };
const STAMP = { producerId: 7n, producerEpoch: 2, transactional: false, baseSequences: [5] };

function records(n: number, size: number, seed = 0): { key: Buffer; value: Buffer; headers: null; timestamp: number }[] {
  return Array.from({ length: n }, (_, i) => ({
    key: Buffer.from(`k${seed}-${i}`),
    value: Buffer.alloc(size, (seed + i) & 0xff),
    headers: null,
    timestamp: 1_700_000_000_000 + i,
  }));
}

function drainOne(backend: Backend, acc: RecordAccumulator, n: number, size: number) {
  acc.append(0, records(n, size), 1_700_000_000_000);
  const [d] = acc.drain([0], 1 << 30, STAMP);
  assert.ok(d, 'a batch was drained');
  return d;
}

function withIo<T>(io: 'uring' | 'net', fn: () => T): T {
  const saved = process.env['KAFKA_TURBO_IO'];
  process.env['KAFKA_TURBO_IO'] = io;
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env['KAFKA_TURBO_IO'];
    else process.env['KAFKA_TURBO_IO'] = saved;
  }
}

const server = loopbackServer;

/** Writes request chunks as BrokerConnection does on the ring: held batches by ref. */
function writeChunks(s: UringSocket, chunks: readonly RequestChunk[], cb?: (err?: Error | null) => void): void {
  s.cork();
  chunks.forEach((c, i) => {
    const done = i === chunks.length - 1 ? cb : undefined;
    if (isHeldRecords(c)) s.writeHeld(c, done);
    else s.write(c, done);
  });
  s.uncork();
}

const held = () => addon.memoryStats().heldBatches;
/** Held batches once Buffers made over held memory (toBuffer) are collected. */

/**
 * A ring socket to a loopback server whose side `onSocket` sets up (pausing it keeps a large
 * write in the ring), with a ~1 MiB batch drained and held on a native backend on the ring;
 * `before` is the held count after earlier tests' Buffers were collected.
 */
async function stalledRing(onSocket: (s: net.Socket) => void) {
  const backend = withIo('uring', () => createNativeBackend(addon));
  const acc = backend.createAccumulator(CONFIG);
  const srv = await server(onSocket);
  const t = new UringTransport(addon.createRing!, { sendBuffer: 4096 });
  const s = t.connect('127.0.0.1', srv.port) as UringSocket;
  await once(s, 'connect');
  const before = await settledHeld();
  const d = drainOne(backend, acc, 64, 16384); // more than loopback buffers take at once
  return { acc, srv, t, s, before, d };
}
async function settledHeld(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
  return held();
}
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const bufferBytes = () => addon.memoryStats().bufferBytes;

if (refusal !== null) {
  it('io_uring is refused here: drained batches are Buffers, as before', () => {
    const backend = createNativeBackend(addon);
    const acc = backend.createAccumulator(CONFIG);
    const d = drainOne(backend, acc, 4, 4096);
    assert.equal(d.held, undefined);
    acc.destroy();
  });
} else {
  describe('drained batches held natively on the io_uring transport', () => {
    const baseline = { held: held(), bytes: bufferBytes() };
    after(async () => {
      assert.equal(await settledHeld(), baseline.held, 'every held batch freed');
      assert.equal(bufferBytes(), baseline.bytes, 'every reported byte taken back');
    });

    it('a large drained batch is held (no Buffer); its bytes equal the fallback\'s; complete() frees it', async () => {
      const backend = withIo('uring', () => createNativeBackend(addon));
      const acc = backend.createAccumulator(CONFIG);
      const before = await settledHeld(); // Buffers of earlier tests collected first
      const d = drainOne(backend, acc, 4, 4096);
      assert.ok(d.held, 'held on the ring');
      assert.ok(d.held.length > 16384 && Number.isInteger(d.held.ref));
      assert.equal(held(), before + 1);
      const fallback = createFallbackBackend({ reason: 'test', refused: [] }).createAccumulator(CONFIG);
      const f = drainOne(createFallbackBackend({ reason: 'test', refused: [] }), fallback, 4, 4096);
      assert.deepEqual(d.held.toBuffer(), f.bytes);
      assert.deepEqual(d.bytes, f.bytes);
      // A small one is still copied into a Buffer of V8's.
      const small = drainOne(backend, acc, 1, 10);
      assert.equal(small.held, undefined);
      acc.complete([{ batchId: d.batchId, errorCode: 0 }, { batchId: small.batchId, errorCode: 0 }]);
      // The Buffer toBuffer() made still holds the memory until it is collected; the table's
      // entry is gone: no new Buffer or write can name it.
      assert.throws(() => addon.heldBatchBuffer(d.held!.ref), RangeError);
      acc.destroy();
      fallback.destroy();
    });

    it('KAFKA_TURBO_IO=net keeps Buffers (no held batch)', () => {
      const backend = withIo('net', () => createNativeBackend(addon));
      const acc = backend.createAccumulator(CONFIG);
      const d = drainOne(backend, acc, 4, 4096);
      assert.equal(d.held, undefined);
      assert.ok(Buffer.isBuffer(d.bytes));
      acc.destroy();
    });

    it('restamp rewrites producer id, epoch, sequence and CRC natively, as restampProducerState does', () => {
      const backend = withIo('uring', () => createNativeBackend(addon));
      const acc = backend.createAccumulator(CONFIG);
      const d = drainOne(backend, acc, 3, 5000);
      const h = d.held!;
      const original = Buffer.from(h.toBuffer()); // a copy of the bytes; toBuffer()'s Buffer now reads the block too
      const expected = Buffer.from(original);
      restampProducerState(expected, 123456789n, 9, 42, backend.crc32c);
      const stale = h.toBuffer();
      h.restamp(123456789n, 9, 42);
      assert.deepEqual(h.toBuffer(), expected);
      // The Buffer made before (something else reading the old block) was not written under it.
      assert.deepEqual(stale, original);
      // With nothing else reading it, in place (the same result).
      const e = acc; // a second batch, never made a Buffer of
      const d2 = drainOne(backend, e, 3, 5000);
      const expected2 = Buffer.from(d2.held!.toBuffer());
      restampProducerState(expected2, -1n, -1, -1, backend.crc32c);
      const d3 = drainOne(backend, e, 3, 5000);
      d3.held!.restamp(-1n, -1, -1);
      const got3 = d3.held!.toBuffer();
      assert.deepEqual(got3.subarray(0, 17), expected2.subarray(0, 17)); // same header up to the CRC
      acc.complete([d, d2, d3].map((b) => ({ batchId: b.batchId, errorCode: 0 })));
      acc.destroy();
    });

    it('the ring writes a ProduceRequest with held batches byte for byte as node:net writes its Buffers (v3 and v9)', async () => {
      const backend = withIo('uring', () => createNativeBackend(addon));
      const acc = backend.createAccumulator(CONFIG);
      const received: Buffer[] = [];
      const srv = await server((s) => s.on('data', (b) => received.push(b)));
      const t = new UringTransport(addon.createRing!);
      const s = t.connect('127.0.0.1', srv.port) as UringSocket;
      await once(s, 'connect');
      let expected = Buffer.alloc(0);
      for (const version of [3, 9]) {
        acc.append(0, records(5, 3000, version), 1_700_000_000_000);
        acc.append(1, records(2, 9000, version + 1), 1_700_000_000_000);
        const drained = acc.drain([0, 1], 1 << 30, { ...STAMP, baseSequences: [0, 0] });
        assert.equal(drained.length, 2);
        assert.ok(drained.every((d) => d.held !== undefined));
        const req = {
          transactionalId: null,
          acks: -1,
          timeoutMs: 30000,
          topicData: [{ name: 'topic', partitionData: drained.map((d) => ({ index: d.partition, records: d.held! })) }],
        };
        const chunks = encodeProduceChunks(Produce, version, req);
        assert.equal(chunks.filter(isHeldRecords).length, 2);
        // node:net's bytes: the same request with every batch as a Buffer.
        expected = Buffer.concat([expected, ...Produce.encode(version, req)]);
        await new Promise<void>((resolve, reject) => writeChunks(s, chunks, (err) => (err ? reject(err) : resolve())));
        acc.complete(drained.map((d) => ({ batchId: d.batchId, errorCode: 0 })));
      }
      await waitFor(() => Buffer.concat(received).length >= expected.length);
      assert.deepEqual(Buffer.concat(received), expected);
      s.destroy();
      await once(s, 'close');
      await srv.close();
      acc.destroy();
    });

    it('a ring write in flight keeps the memory past complete() and destroy(); it is freed once written', async () => {
      let reader: net.Socket | null = null;
      const received: Buffer[] = [];
      const { acc, srv, s, before, d } = await stalledRing((sock) => {
        reader = sock;
        sock.pause(); // reads nothing: the send buffer fills and the write stays in the ring
        sock.on('data', (b) => received.push(b));
      });
      // What it must read as (the fallback's bytes): no Buffer is made over the held memory.
      const fallback = createFallbackBackend({ reason: 'test', refused: [] });
      const fAcc = fallback.createAccumulator(CONFIG);
      const bytes = drainOne(fallback, fAcc, 64, 16384).bytes;
      fAcc.destroy();
      let written = false;
      writeChunks(s, [d.held!], () => (written = true));
      acc.complete([{ batchId: d.batchId, errorCode: 0 }]);
      acc.destroy();
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(written, false, 'still in the ring');
      assert.equal(held(), before + 1, 'the write keeps it alive');
      reader!.resume();
      await waitFor(() => written);
      await waitFor(() => Buffer.concat(received).length >= bytes.length);
      assert.deepEqual(Buffer.concat(received), bytes);
      assert.equal(held(), before, 'freed once written');
      s.destroy();
      await once(s, 'close');
      await srv.close();
    });

    it('destroying the socket with a held write in flight releases it (close event)', async () => {
      const { acc, srv, t, s, before, d } = await stalledRing((sock) => sock.pause());
      let error: Error | null | undefined;
      writeChunks(s, [d.held!], (err) => (error = err));
      acc.complete([{ batchId: d.batchId, errorCode: 0 }]);
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(held(), before + 1);
      s.destroy();
      await once(s, 'close');
      assert.ok(error instanceof Error, 'the write failed with the close');
      assert.equal(held(), before, 'released at the close');
      await srv.close();
      acc.destroy();
    });

    it('destroying the ring with a held write in flight releases it (teardown)', async () => {
      const { acc, srv, t, s, before, d } = await stalledRing((sock) => sock.pause());
      writeChunks(s, [d.held!]);
      acc.destroy(); // the producer is gone first
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(held(), before + 1, 'only the write holds it now');
      t.native.destroy();
      assert.equal(held(), before, 'released with the ring');
      await srv.close();
    });

    it('a released batch can no longer be named (restamp, Buffer)', () => {
      const backend = withIo('uring', () => createNativeBackend(addon));
      const acc = backend.createAccumulator(CONFIG);
      const d = drainOne(backend, acc, 4, 4096);
      const ref = d.held!.ref;
      acc.complete([{ batchId: d.batchId, errorCode: 0 }]);
      assert.throws(() => addon.restampHeldBatch(ref, 1n, 1, 1), RangeError);
      assert.throws(() => addon.heldBatchBuffer(ref), RangeError);
      acc.destroy();
    });
  });

  describe('producer on the ring with held batches (scripted fake broker)', () => {
    let restore: () => void = () => undefined;
    const open: { fake: FakeCluster; producers: Producer[] }[] = [];
    afterEach(async () => {
      for (const { fake, producers } of open.splice(0)) {
        await Promise.all(producers.map((p) => p.close({ timeoutMs: 1000 }).catch(() => undefined)));
        await fake.stop();
      }
      restore();
    });

    async function setup(io: 'uring' | 'net', extra: Record<string, unknown> = {}) {
      const saved = process.env['KAFKA_TURBO_IO'];
      process.env['KAFKA_TURBO_IO'] = io;
      const r = useBackend('native');
      restore = () => {
        r.restore();
        if (saved === undefined) delete process.env['KAFKA_TURBO_IO'];
        else process.env['KAFKA_TURBO_IO'] = saved;
      };
      const fake = await FakeCluster.start({ brokers: 1, topics: [{ name: 't', partitions: 1 }] });
      const p = new Producer({
        'bootstrap.servers': fake.bootstrap,
        'linger.ms': 0,
        'retry.backoff.ms': 10,
        'retry.backoff.max.ms': 50,
        'request.timeout.ms': 3000,
        'delivery.timeout.ms': 8000,
        ...extra,
      } as ConstructorParameters<typeof Producer>[0]);
      open.push({ fake, producers: [p] });
      return { fake, p };
    }

    const big = (tag: string) => `${tag}:${'x'.repeat(6000)}`;
    const values = (fake: FakeCluster) => fake.values('t', 0).map((v) => (v ?? '').split(':')[0]);

    it('the same records land through the ring (held) and node:net', async () => {
      const got: Record<string, string[]> = {};
      for (const io of ['uring', 'net'] as const) {
        const { fake, p } = await setup(io);
        let peak = 0;
        const hold = fake.prepare(ApiKey.Produce, { hold: true });
        const sends = Array.from({ length: 4 }, (_, i) => p.send({ topic: 't', partition: 0, value: big(`v${i}`), timestamp: 1000 + i }));
        await hold.received;
        peak = Math.max(peak, held());
        hold.release();
        await Promise.all(sends);
        got[io] = values(fake);
        if (io === 'uring') assert.ok(peak > 0, 'the batch was held natively while on the wire');
        await p.close();
        assert.equal(await settledHeld(), 0, 'nothing held after close');
        await fake.stop();
        open.splice(0);
        restore();
      }
      assert.deepEqual(got['uring'], ['v0', 'v1', 'v2', 'v3']);
      assert.deepEqual(got['uring'], got['net']);
    });

    it('an epoch bump restamps a held batch natively; the broker takes it under epoch 1, sequence 0', async () => {
      const { fake, p } = await setup('uring');
      await p.send({ topic: 't', partition: 0, value: 'warm' });
      const hold = fake.prepare(ApiKey.Produce, {
        hold: true,
        errors: [{ topic: 't', partition: 0, errorCode: ErrorCode.INVALID_RECORD }],
      });
      const one = p.send({ topic: 't', partition: 0, value: big('bad') }).then(
        () => 'ok',
        (e: Error & { type?: string }) => e.type,
      );
      await hold.received;
      const two = p.send({ topic: 't', partition: 0, value: big('good') });
      await fake.nextRequest(ApiKey.Produce);
      assert.ok(held() >= 2, 'both batches held');
      hold.release();
      assert.equal(await one, 'INVALID_RECORD');
      assert.equal((await two).offset, 1);
      assert.deepEqual(values(fake), ['warm', 'good']);
      const last = fake.log('t', 0).at(-1)!;
      assert.deepEqual([last.epoch, last.baseSequence], [1, 0]);
      await p.close();
      assert.equal(await settledHeld(), 0);
    });

    it('MESSAGE_TOO_LARGE splits a held batch; every record lands once, in order', async () => {
      const { fake, p } = await setup('uring', { 'linger.ms': 50, 'batch.size': 1 << 20 });
      fake.prepare(ApiKey.Produce, { errors: [{ topic: 't', errorCode: ErrorCode.MESSAGE_TOO_LARGE }] });
      const sends = Array.from({ length: 6 }, (_, i) => p.send({ topic: 't', partition: 0, value: big(`s${i}`) }));
      const req = await fake.nextRequest(ApiKey.Produce);
      assert.ok(req.size > 30000);
      assert.ok(held() > 0, 'the batch that gets split was held');
      const md = await Promise.all(sends);
      assert.deepEqual(values(fake), Array.from({ length: 6 }, (_, i) => `s${i}`));
      assert.deepEqual(md.map((m) => m.offset), [0, 1, 2, 3, 4, 5]);
      assert.ok(fake.log('t', 0).length >= 2, 'sent as smaller batches');
      await p.close();
      assert.equal(await settledHeld(), 0);
    });

    it('close() with a held batch on the wire leaves nothing held and memory counters at zero', async () => {
      const { fake, p } = await setup('uring');
      const before = bufferBytes();
      fake.prepare(ApiKey.Produce, { noResponse: true });
      const sent = p.send({ topic: 't', partition: 0, value: big('lost') }).catch((e: Error) => e);
      await fake.nextRequest(ApiKey.Produce);
      assert.ok(held() > 0);
      await p.close({ timeoutMs: 100 });
      assert.ok((await sent) instanceof Error);
      assert.equal(await settledHeld(), 0, 'held batches freed');
      // The held batch's bytes were counted in bufferBytes; all taken back (Buffers made over
      // held memory, if any, are collected with the next GC: none here, nothing read them).
      assert.ok(bufferBytes() <= before, `bufferBytes ${bufferBytes()} after close, ${before} before`);
      assert.equal(addon.memoryStats().externalBytes, 0);
    });
  });
}
