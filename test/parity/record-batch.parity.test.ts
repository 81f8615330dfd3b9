/**
 * Native == fallback, byte for byte, on record batches: 10,000 random records (0 B .. 1 MiB,
 * most small; null keys and values; headers with null values and non-ASCII keys; timestamps
 * that go up, down and jump) encoded
 *   - by encodeRecordBatch, in batches of varying record counts, on both backends and on the
 *     addon's object-reading entry point (the adapter uses the packed one);
 *   - by the accumulators, fed the same append() calls of random sizes and partitions, with
 *     random batch.size, linger and buffer.memory, and random drain() / ready() / expire() /
 *     complete() calls in between: every result must be equal (batch ids, counts, ready
 *     partitions, removed batches, stats) and every drained batch the same bytes, with the
 *     stamp's producer id, epoch, transactional bit and base sequence in its header.
 * Three accumulators run side by side: the fallback, the native backend (packed fast paths)
 * and the addon's accumulator driven through its object-reading methods.
 *
 * Deterministic: PARITY_SEED=<n> replays a run (the seed is in every failure message).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { availableBackends } from '../helpers/backends.js';
import { loadNativeAddon, type NativeAddon } from '../../ts/backend/native.js';
import {
  CodecId,
  type AccumulatorConfig,
  type Backend,
  type BatchHeaderInput,
  type DrainStamp,
  type DrainedBatch,
  type RecordAccumulator,
  type RecordHeaderInput,
  type RecordInput,
} from '../../ts/backend/types.js';
import { prng } from '../helpers/prng.js';

const SEED = Number(process.env['PARITY_SEED'] ?? 20240611) >>> 0;
const RECORDS = 10_000;

const random = prng(SEED);
const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;

/** 2 MiB of pseudo-random bytes; fields are views of it or copies of such views. */
const POOL = (() => {
  const b = Buffer.allocUnsafe(2 << 20);
  const r = prng(SEED ^ 0x5eed);
  for (let i = 0; i < b.length; i += 4) b.writeUInt32LE(Math.floor(r() * 4294967296), i);
  return b;
})();

/** Most small, a few up to 1 MiB: about 90 MB over 10,000 records. */
function fieldSize(): number {
  const u = random();
  if (u < 0.7) return int(0, 100);
  if (u < 0.9) return int(101, 4096);
  if (u < 0.99) return int(4097, 64 * 1024);
  return int(64 * 1024 + 1, 1 << 20);
}

/** A Buffer view of the pool (any offset), a copy, or now and then a plain Uint8Array (the
 * backends only rely on Uint8Array, so both must take one). */
function bytes(size: number): Buffer {
  const at = int(0, POOL.length - size);
  const view = POOL.subarray(at, at + size);
  const u = random();
  if (u < 0.45) return view;
  if (u < 0.95) return Buffer.from(view);
  return new Uint8Array(view) as Buffer;
}

const HEADER_KEYS = ['', 'h', 'trace-id', 'clé', 'キー', '🚀 rocket', 'Ω≈ç√', '\uD800 lone surrogate', 'k'.repeat(300)];

function headers(): RecordHeaderInput[] | null {
  const u = random();
  if (u < 0.6) return null;
  if (u < 0.65) return [];
  const n = int(1, 4);
  const hs: RecordHeaderInput[] = [];
  for (let i = 0; i < n; i++) {
    const v = random();
    hs.push({ key: pick(HEADER_KEYS), value: v < 0.2 ? null : v < 0.97 ? bytes(int(0, 40)) : bytes(int(1000, 3000)) });
  }
  return hs;
}

function makeRecords(): RecordInput[] {
  const records: RecordInput[] = [];
  let ts = 1_700_000_000_000;
  for (let i = 0; i < RECORDS; i++) {
    const u = random();
    // Mostly forward in small steps; sometimes back (out-of-order create times), sometimes
    // far away (clock jumps), a few negative (before 1970).
    if (u < 0.8) ts += int(0, 5);
    else if (u < 0.95) ts -= int(1, 1000);
    else if (u < 0.99) ts += pick([-1, 1]) * int(1, 2 ** 40);
    else ts = -int(0, 2 ** 45);
    const k = random();
    const v = random();
    records.push({
      key: k < 0.25 ? null : bytes(k < 0.97 ? int(0, 64) : fieldSize()),
      value: v < 0.05 ? null : bytes(fieldSize()),
      headers: headers(),
      timestamp: ts,
    });
  }
  return records;
}

function randomProducer(): { producerId: bigint; producerEpoch: number; transactional: boolean } {
  if (random() < 0.3) return { producerId: -1n, producerEpoch: -1, transactional: false };
  const producerId = random() < 0.2 ? 2n ** 63n - 1n - BigInt(int(0, 10)) : BigInt(int(0, 2 ** 40));
  return { producerId, producerEpoch: int(-1, 32767), transactional: random() < 0.5 };
}

const natives = availableBackends().filter((b) => b.name === 'native');
const skip = natives.length === 0 ? 'the native addon is not built on this machine' : false;

describe(`record batch parity, native == fallback (PARITY_SEED=${SEED})`, { skip }, () => {
  const fallback = availableBackends().find((b) => b.name === 'fallback')!.backend;
  const native = natives[0]?.backend as Backend;
  const addon = skip ? (null as unknown as NativeAddon) : loadNativeAddon();
  const records = skip ? [] : makeRecords();

  test('encodeRecordBatch: the same bytes for batches of 1 .. 250 records', (t) => {
    let at = 0;
    let batches = 0;
    let bytesSeen = 0;
    while (at < records.length) {
      const n = Math.min(records.length - at, random() < 0.1 ? 1 : int(1, 250));
      const slice = records.slice(at, at + n);
      const header: BatchHeaderInput = { ...randomProducer(), baseSequence: int(-1, 2 ** 31 - 1), codec: CodecId.None };
      const want = fallback.encodeRecordBatch(slice, header);
      const got = native.encodeRecordBatch(slice, header);
      const gotObjects = addon.encodeRecordBatch(slice, header);
      if (!want.equals(got) || !want.equals(gotObjects)) {
        assert.fail(`seed ${SEED}: records ${at}..${at + n - 1}: native ${want.equals(got) ? 'ok' : 'differs'}, object path ${want.equals(gotObjects) ? 'ok' : 'differs'}`);
      }
      at += n;
      batches++;
      bytesSeen += want.length;
    }
    assert.ok(batches > 60, `${batches} batches`);
    assert.ok(bytesSeen > 10 << 20, `${bytesSeen} bytes`);
    t.diagnostic(`${batches} batches, ${bytesSeen} bytes`);
  });

  /** Drives the three accumulators with the same calls and checks they answer the same.
   * `blocking`: the sender's blocked set (setBlocked) changes now and then, so batches grow
   * past batch.size while their partition is blocked and close when it is let go. */
  function runAccumulators(config: AccumulatorConfig, label: string, blocking = false): { drained: number; appends: number } {
    const accs: [string, RecordAccumulator][] = [
      ['fallback', fallback.createAccumulator(config)],
      ['native', native.createAccumulator(config)],
      ['native objects', addon.createAccumulator(config)],
    ];
    const where = (what: string) => `seed ${SEED}, ${label}: ${what}`;
    const same = <T>(what: string, f: (acc: RecordAccumulator) => T): T => {
      const results = accs.map(([, acc]) => f(acc));
      for (let i = 1; i < results.length; i++) assert.deepStrictEqual(results[i], results[0], where(`${what}: ${accs[i]![0]} != fallback`));
      return results[0]!;
    };
    let now = 1_000;
    let at = 0;
    let appends = 0;
    let drainedBatches = 0;
    const inFlight: number[] = [];
    const stampCheck = (d: DrainedBatch, stamp: DrainStamp, sequence: number) => {
      assert.equal(d.bytes.readBigInt64BE(43), stamp.producerId, where('producerId in the header'));
      assert.equal(d.bytes.readInt16BE(51), stamp.producerEpoch, where('producerEpoch in the header'));
      assert.equal(d.bytes.readInt32BE(53), sequence, where('baseSequence in the header'));
      assert.equal((d.bytes.readInt16BE(21) & 0x10) !== 0, stamp.transactional, where('transactional bit'));
      assert.equal(d.bytes.readInt32BE(57), d.recordCount, where('recordCount in the header'));
    };
    const drainSome = (flushing: boolean) => {
      const ready = same('ready', (acc) => acc.ready(now, flushing));
      if (ready.partitions.length === 0) return;
      // Sometimes ask for partitions that hold nothing, or in another order.
      const partitions = [...ready.partitions];
      if (random() < 0.3) {
        const extra = int(0, 20);
        if (!partitions.includes(extra)) partitions.push(extra);
      }
      if (random() < 0.3) partitions.reverse();
      const stamp: DrainStamp = {
        ...randomProducer(),
        baseSequences: random() < 0.5 ? null : partitions.map(() => int(-1, 2 ** 31 - 1)),
      };
      const maxBytes = random() < 0.5 ? Infinity : int(1, 2 << 20);
      const results = accs.map(([, acc]) => acc.drain(partitions, maxBytes, stamp));
      const [want, ...others] = results;
      for (const [i, got] of others.entries()) {
        assert.equal(got.length, want!.length, where(`drain count, ${accs[i + 1]![0]}`));
        for (let j = 0; j < want!.length; j++) {
          const w = want![j]!;
          const g = got[j]!;
          assert.deepStrictEqual(
            { batchId: g.batchId, partition: g.partition, recordCount: g.recordCount, createdMs: g.createdMs },
            { batchId: w.batchId, partition: w.partition, recordCount: w.recordCount, createdMs: w.createdMs },
            where(`drained batch ${j} of ${accs[i + 1]![0]}`),
          );
          if (!g.bytes.equals(w.bytes)) assert.fail(where(`drained batch ${w.batchId} bytes differ on ${accs[i + 1]![0]}`));
        }
      }
      for (const d of want!) {
        const index = partitions.indexOf(d.partition);
        stampCheck(d, stamp, stamp.baseSequences ? stamp.baseSequences[index]! : -1);
        inFlight.push(d.batchId);
      }
      drainedBatches += want!.length;
    };
    const completeSome = () => {
      const n = int(0, inFlight.length);
      const results = inFlight.splice(0, n).map((batchId) => ({ batchId, errorCode: random() < 0.9 ? 0 : pick([-1, 6, 7]) }));
      if (random() < 0.2) results.push({ batchId: 999_999, errorCode: 0 });
      for (const [, acc] of accs) acc.complete(results);
      same('stats', (acc) => acc.stats());
    };

    while (at < records.length) {
      const n = Math.min(records.length - at, random() < 0.3 ? 1 : int(1, 50));
      const partition = int(0, 7);
      const batch = records.slice(at, at + n);
      const res = same('append', (acc) => acc.append(partition, batch, now));
      appends++;
      at += res.appended;
      if (res.appended < n) {
        // buffer.memory is full: drain and complete everything before going on.
        drainSome(true);
        completeSome();
        while (same('hasUndrained', (acc) => acc.hasUndrained())) drainSome(true);
        inFlight.splice(0).forEach((batchId) => accs.forEach(([, acc]) => acc.complete([{ batchId, errorCode: 0 }])));
        same('stats after freeing memory', (acc) => acc.stats());
      }
      now += int(0, 20);
      if (blocking && random() < 0.25) {
        // A random set of partitions (0..7, the ones appended to), sometimes with ids that
        // cannot be partitions (skipped by both) or a duplicate.
        const ids: number[] = [];
        for (let p = 0; p < 8; p++) if (random() < 0.5) ids.push(p);
        if (random() < 0.1) ids.push(pick([-1, 1.5, 2 ** 30, NaN]));
        if (random() < 0.1 && ids.length > 0) ids.push(ids[0]!);
        for (const [, acc] of accs) acc.setBlocked(ids);
        same('stats after setBlocked', (acc) => acc.stats());
      }
      const u = random();
      if (u < 0.35) drainSome(random() < 0.3);
      else if (u < 0.45) completeSome();
      else if (u < 0.46) {
        const cutoff = now - int(0, 200);
        same('expire', (acc) => acc.expire(cutoff));
      }
    }
    while (same('hasUndrained', (acc) => acc.hasUndrained())) {
      if (random() < 0.01) same('abortAll', (acc) => acc.abortAll());
      else drainSome(true);
    }
    completeSome();
    same('final stats', (acc) => acc.stats());
    return { drained: drainedBatches, appends };
  }

  const configs: { label: string; config: AccumulatorConfig; blocking?: boolean }[] = [
    { label: 'batch.size 16384', config: { batchSize: 16384, lingerMs: 5, bufferMemory: 1 << 30, codec: CodecId.None } },
    { label: 'batch.size 1000, linger 0', config: { batchSize: 1000, lingerMs: 0, bufferMemory: 1 << 30, codec: CodecId.None } },
    { label: 'batch.size 0 (one record per batch)', config: { batchSize: 0, lingerMs: 10, bufferMemory: 1 << 30, codec: CodecId.None } },
    // A call's run of records grows its batch past batch.size (the producer's maxBatchSize is
    // max.request.size): once unbounded, once cut by a small maxBatchSize, once with
    // buffer.memory stopping appends part way.
    { label: 'batch.size 1000, maxBatchSize 1 MiB', config: { batchSize: 1000, maxBatchSize: 1 << 20, lingerMs: 5, bufferMemory: 1 << 30, codec: CodecId.None } },
    { label: 'batch.size 300, maxBatchSize 2500', config: { batchSize: 300, maxBatchSize: 2500, lingerMs: 0, bufferMemory: 1 << 30, codec: CodecId.None } },
    { label: 'batch.size 512, maxBatchSize 64 KiB, small buffer.memory', config: { batchSize: 512, maxBatchSize: 65536, lingerMs: 3, bufferMemory: 250_000, codec: CodecId.None } },
  ];
  // Blocked partitions (issue 16): their batches grow to maxBatchSize whatever the call, and
  // close when let go; with Java's defaults, a small maxBatchSize, and buffer.memory stopping
  // the growth part way.
  configs.push(
    { label: 'blocked partitions, batch.size 16384, maxBatchSize 1 MiB', blocking: true, config: { batchSize: 16384, maxBatchSize: 1 << 20, lingerMs: 5, bufferMemory: 1 << 30, codec: CodecId.None } },
    { label: 'blocked partitions, batch.size 300, maxBatchSize 2500', blocking: true, config: { batchSize: 300, maxBatchSize: 2500, lingerMs: 0, bufferMemory: 1 << 30, codec: CodecId.None } },
    { label: 'blocked partitions, batch.size 512, maxBatchSize 64 KiB, small buffer.memory', blocking: true, config: { batchSize: 512, maxBatchSize: 65536, lingerMs: 3, bufferMemory: 250_000, codec: CodecId.None } },
  );
  // Random ones, two with buffer.memory small enough to stop appends (and a fractional size).
  for (let i = 0; i < 3; i++) {
    configs.push({
      label: `random #${i}`,
      config: {
        batchSize: pick([100, 512, 4096, 65536, 1 << 20]) + (i === 2 ? 0.5 : 0),
        lingerMs: int(0, 100),
        bufferMemory: i === 0 ? 1 << 30 : int(200_000, 3_000_000),
        codec: CodecId.None,
      },
    });
  }
  for (const { label, config, blocking } of configs) {
    test(`accumulators: ${label} (${JSON.stringify(config)})`, (t) => {
      const { drained, appends } = runAccumulators(config, label, blocking);
      assert.ok(drained > 0 && appends > 100, `${drained} batches drained in ${appends} appends`);
      t.diagnostic(`${appends} appends, ${drained} batches drained`);
    });
  }
  test('two accumulators on one BufferPool: the same appends taken, the same bytes held, on both backends', () => {
    // Two lanes of one producer (one with a codec), interleaved appends, drains and
    // completes: every answer must be the same, and the two together never pass the pool.
    const total = 300_000;
    const sides = [fallback, native].map((backend) => {
      const pool = backend.createBufferPool(total);
      return {
        pool,
        accs: [
          backend.createAccumulator({ batchSize: 4096, lingerMs: 0, bufferMemory: 1 << 30, codec: CodecId.None, pool }),
          backend.createAccumulator({ batchSize: 16384, lingerMs: 0, bufferMemory: 1 << 30, codec: CodecId.Gzip, pool }),
        ],
        inFlight: [[], []] as number[][],
      };
    });
    const small = records.filter((r) => (r.value?.length ?? 0) + (r.key?.length ?? 0) < 20_000).slice(0, 3000);
    let at = 0;
    let refused = 0;
    const stamp: DrainStamp = { producerId: -1n, producerEpoch: -1, transactional: false, baseSequences: null };
    for (let step = 0; at < small.length; step++) {
      const lane = int(0, 1);
      const n = int(1, 30);
      const partition = int(0, 3);
      const batch = small.slice(at, at + n);
      const got = sides.map((s) => s.accs[lane]!.append(partition, batch, step));
      assert.deepStrictEqual(got[1], got[0], `seed ${SEED}, step ${step}: append`);
      at += got[0]!.appended;
      if (got[0]!.appended < batch.length) refused++;
      for (const s of sides) {
        const held = s.accs[0]!.stats().bufferedBytes + s.accs[1]!.stats().bufferedBytes;
        assert.ok(held <= total, `held ${held}`);
        assert.equal(s.pool.available(), Math.max(0, total - held));
      }
      assert.equal(sides[1]!.pool.available(), sides[0]!.pool.available(), `seed ${SEED}, step ${step}: available`);
      if (random() < 0.4 || got[0]!.appended < batch.length) {
        const which = int(0, 1);
        const drained = sides.map((s) => s.accs[which]!.drain([0, 1, 2, 3], Infinity, stamp));
        assert.deepStrictEqual(drained[1]!.map((d) => d.batchId), drained[0]!.map((d) => d.batchId));
        sides.forEach((s, i) => s.inFlight[which]!.push(...drained[i]!.map((d) => d.batchId)));
      }
      if (random() < 0.3) {
        const which = int(0, 1);
        const k = int(0, sides[0]!.inFlight[which]!.length);
        for (const s of sides) s.accs[which]!.complete(s.inFlight[which]!.splice(0, k).map((batchId) => ({ batchId, errorCode: 0 })));
      }
    }
    assert.ok(refused > 5, `the pool stopped appends ${refused} times`);
  });
});

describe('native argument checks: wrong shapes are TypeErrors (RangeErrors for ranges), never stray reads', { skip }, () => {
  const native = natives[0]?.backend as Backend;
  const addon = skip ? (null as unknown as NativeAddon) : loadNativeAddon();
  const config: AccumulatorConfig = { batchSize: 1024, lingerMs: 0, bufferMemory: 1 << 20, codec: CodecId.None };
  const ok: RecordInput = { key: null, value: Buffer.from('v'), headers: null, timestamp: 1 };
  const header: BatchHeaderInput = { producerId: -1n, producerEpoch: -1, baseSequence: -1, transactional: false, codec: CodecId.None };
  const bad = (r: Partial<Record<keyof RecordInput, unknown>>) => ({ ...ok, ...r }) as unknown as RecordInput;

  test('records: key / value / headers / timestamp of the wrong type', () => {
    for (const [what, record] of [
      ['key string', bad({ key: 'k' })],
      ['value undefined', bad({ value: undefined })],
      ['value Uint16Array', bad({ value: new Uint16Array(2) })],
      ['header key number', bad({ headers: [{ key: 1, value: null }] })],
      ['header value string', bad({ headers: [{ key: 'h', value: 'v' }] })],
      ['timestamp fraction', bad({ timestamp: 1.5 })],
      ['timestamp string', bad({ timestamp: '1' })],
      ['timestamp past 2^53', bad({ timestamp: 2 ** 60 })],
    ] as const) {
      const acc = native.createAccumulator(config);
      const raw = addon.createAccumulator(config);
      assert.throws(() => acc.append(0, [ok, record], 0), TypeError, `adapter: ${what}`);
      assert.throws(() => raw.append(0, [ok, record], 0), TypeError, `object path: ${what}`);
      assert.throws(() => native.encodeRecordBatch([record], header), TypeError, `encode: ${what}`);
      assert.throws(() => addon.encodeRecordBatch([record], header), TypeError, `encode objects: ${what}`);
      // Nothing was taken: the call is refused whole.
      assert.equal(acc.hasUndrained(), false, what);
      assert.equal(raw.hasUndrained(), false, what);
    }
  });

  test('accumulator arguments', () => {
    const acc = native.createAccumulator(config);
    const raw = addon.createAccumulator(config);
    assert.throws(() => acc.append(-1, [ok], 0), RangeError);
    assert.throws(() => raw.append(2 ** 24, [ok], 0), RangeError);
    assert.throws(() => raw.append(0, 'records' as unknown as RecordInput[], 0), TypeError);
    acc.append(0, [ok], 0);
    const stamp = { producerId: -1n, producerEpoch: -1, transactional: false, baseSequences: null };
    assert.throws(() => acc.drain([0], 1 << 20, { ...stamp, producerId: 1 as unknown as bigint }), TypeError);
    assert.throws(() => acc.drain([0], 1 << 20, { ...stamp, producerId: 2n ** 64n }), RangeError);
    assert.throws(() => acc.drain([0], 1 << 20, { ...stamp, producerEpoch: 40000 }), RangeError);
    assert.throws(() => acc.drain([0], 1 << 20, { ...stamp, baseSequences: [] }), RangeError);
    assert.equal(acc.hasUndrained(), true, 'a refused drain takes nothing');
    assert.equal(acc.drain([0], 1 << 20, stamp).length, 1);
    assert.throws(() => raw.complete([null as unknown as { batchId: number; errorCode: number }]), TypeError);
    // setBlocked: an array of numbers on both backends (ids that cannot be partitions skipped).
    for (const a of [acc, raw, availableBackends().find((b) => b.name === 'fallback')!.backend.createAccumulator(config)]) {
      assert.throws(() => a.setBlocked('0' as unknown as number[]), TypeError);
      assert.throws(() => a.setBlocked([0, '1' as unknown as number]), TypeError);
      assert.throws(() => (a.setBlocked as (x?: unknown) => void)(), TypeError);
      a.setBlocked([-1, 0.5, 2 ** 24, NaN, Infinity, 0, 0]);
      a.setBlocked([]);
    }
    assert.throws(() => addon.createAccumulator({ ...config, batchSize: -1 }), RangeError);
    assert.throws(() => addon.createAccumulator({ ...config, batchSize: NaN }), TypeError);
    assert.throws(() => addon.createAccumulator({ ...config, codec: 7 as CodecId }), RangeError);
    assert.throws(() => addon.createAccumulator({ ...config, codec: CodecId.Gzip, compressionLevel: 12 }), /level/);
    assert.throws(() => addon.createAccumulator({ ...config, codec: CodecId.Zstd, compressionLevel: 1.5 }), TypeError);
    assert.throws(() => (addon.createAccumulator as (c?: unknown) => unknown)(), TypeError);
  });

  test('packed layouts that lie are refused', () => {
    const raw = addon.createAccumulator(config);
    const scratch = Buffer.alloc(8 * 16 + 8);
    const slots = new Float64Array(scratch.buffer, scratch.byteOffset, 16);
    // metaCapacity past the scratch, a count past the slots, a length past the bytes, a big
    // index without bigs.
    for (const layout of [
      [1000, 0, 0, 1, 0],
      [16, 0, 0, 100, 0],
      [16, 0, 0, 1, 0, 5, -1, 9, 0],
      [16, 0, 0, 1, 0, 5, -1, -2, 0],
      [16, 0, 0, 1, 0, 5, 0.5, 1, 0],
    ]) {
      slots.fill(0);
      slots.set(layout);
      assert.throws(() => raw.appendPacked(scratch, null), TypeError, JSON.stringify(layout));
    }
    assert.throws(() => raw.appendPacked(new Float64Array(4) as unknown as Uint8Array, null), TypeError);
    assert.equal(raw.hasUndrained(), false);
    // readyPacked / completePacked: a capacity past the scratch, a count past the slots, a
    // time that is not a number. First a layout that holds, so the refusals below are the
    // entry points' own checks and not a missing method.
    slots.fill(0);
    slots.set([16, 5, 1]);
    assert.equal(raw.readyPacked(scratch), undefined);
    assert.deepEqual([slots[0], slots[1]], [0, Infinity], 'nothing ready, nothing lingering');
    slots.set([16, 0]);
    assert.equal(raw.completePacked(scratch), undefined);
    slots.set([1000, 0, 0]);
    assert.throws(() => raw.readyPacked(scratch), TypeError);
    slots.set([16, NaN, 0]);
    assert.throws(() => raw.readyPacked(scratch), TypeError);
    slots.set([1000, 0]);
    assert.throws(() => raw.completePacked(scratch), TypeError);
    slots.set([16, 8]);
    assert.throws(() => raw.completePacked(scratch), RangeError, 'eight results need 18 slots');
    slots.set([16, 0.5]);
    assert.throws(() => raw.completePacked(scratch), RangeError);
    assert.throws(() => (raw.readyPacked as (x?: unknown) => unknown)(), TypeError);
    assert.throws(() => (raw.completePacked as (x?: unknown) => unknown)('x'), TypeError);
  });

  test('ready() and complete() through the slots answer as the fallback, also past the slots', () => {
    // 5000 ready partitions do not fit the packer's 4096 initial slots: readyPacked hands them
    // back as an array then. complete() grows the slots for 5000 results.
    const fallback = availableBackends().find((b) => b.name === 'fallback')!.backend;
    const stamp = { producerId: -1n, producerEpoch: -1, transactional: false, baseSequences: null };
    for (const count of [1, 3, 5000]) {
      const accs = [native.createAccumulator(config), fallback.createAccumulator(config)];
      const seen = accs.map((acc) => {
        for (let p = count - 1; p >= 0; p--) acc.append(p, [ok], 0);
        const lingering = acc.ready(0, false);
        const flushing = acc.ready(0, true);
        const drained = acc.drain(flushing.partitions, Infinity, stamp);
        // Every other batch fails: its records count as failed, the rest as completed.
        acc.complete(drained.map((d, i) => ({ batchId: d.batchId, errorCode: i % 2 })));
        const after = acc.ready(0, true);
        return { lingering, flushing: flushing.partitions, drained: drained.length, after, stats: acc.stats() };
      });
      assert.deepEqual(seen[0], seen[1], `${count} partitions`);
      assert.equal(seen[0]!.flushing.length, count);
      assert.equal(seen[0]!.stats.recordsFailed, Math.floor(count / 2));
      assert.equal(seen[0]!.stats.bufferedBytes, 0);
    }
  });

  test('an empty batch is a RangeError on both backends', () => {
    const fallback = availableBackends().find((b) => b.name === 'fallback')!.backend;
    assert.throws(() => fallback.encodeRecordBatch([], header), RangeError);
    assert.throws(() => native.encodeRecordBatch([], header), RangeError);
  });
});
