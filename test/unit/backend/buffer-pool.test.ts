/**
 * One buffer.memory for a whole producer (issue 8, defect 8): accumulators created with the
 * same BufferPool count against one limit, as the Java producer's single BufferPool does,
 * on every backend this machine has. (The same sequence, native == fallback, is in
 * test/parity/.)
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { availableBackends } from '../../helpers/backends.js';
import { CodecId, type AccumulatorConfig, type RecordInput } from '../../../ts/backend/types.js';

const NO_STAMP = { producerId: -1n, producerEpoch: -1, transactional: false, baseSequences: null };

function rec(i: number, size: number): RecordInput {
  return { key: null, value: Buffer.alloc(size, i & 0xff), headers: null, timestamp: 1_700_000_000_000 + i };
}

function config(over: Partial<AccumulatorConfig> = {}): AccumulatorConfig {
  return { batchSize: 16_384, lingerMs: 0, bufferMemory: 1 << 30, codec: CodecId.None, ...over };
}

const KB = 1000;

for (const { name, backend } of availableBackends()) {
  describe(`BufferPool (${name})`, () => {
    test('two accumulators on one pool of 200 KB never hold more than 200 KB together', () => {
      const pool = backend.createBufferPool(200 * KB);
      assert.equal(pool.total(), 200 * KB);
      assert.equal(pool.available(), 200 * KB);
      // Each accumulator's own bufferMemory is far larger: only the pool may stop them.
      const a = backend.createAccumulator(config({ pool }));
      const b = backend.createAccumulator(config({ pool, codec: CodecId.Gzip }));
      const records = Array.from({ length: 300 }, (_, i) => rec(i, 1000));
      const takenA = a.append(0, records.slice(0, 120), 0).appended;
      const takenB = b.append(0, records, 0).appended;
      const held = a.stats().bufferedBytes + b.stats().bufferedBytes;
      assert.equal(takenA, 120);
      assert.ok(takenB > 0 && takenB < 300, `b took ${takenB}`);
      assert.ok(held <= 200 * KB, `together ${held} bytes`);
      assert.ok(held > 190 * KB, `the pool is used up (${held})`);
      assert.equal(pool.available(), 200 * KB - held);
      // Full: neither takes another record.
      assert.equal(a.append(1, [rec(1, 1000)], 0).appended, 0);
      assert.equal(b.append(1, [rec(1, 1000)], 0).appended, 0);
    });

    test('memory freed by complete() on one accumulator is usable by the other', () => {
      const pool = backend.createBufferPool(200 * KB);
      const a = backend.createAccumulator(config({ pool }));
      const b = backend.createAccumulator(config({ pool }));
      const records = Array.from({ length: 300 }, (_, i) => rec(i, 1000));
      const takenA = a.append(0, records, 0).appended;
      assert.ok(takenA > 150, `a took ${takenA}`);
      assert.equal(b.append(0, records, 0).appended, 0, 'the pool is full');
      const drained = a.drain([0], Infinity, NO_STAMP);
      assert.ok(drained.length > 0);
      assert.equal(b.append(0, records, 0).appended, 0, 'drained batches still hold memory');
      a.complete(drained.map((d) => ({ batchId: d.batchId, errorCode: 0 })));
      const freed = drained.reduce((n, d) => n + d.recordCount, 0);
      const takenB = b.append(0, records, 0).appended;
      assert.ok(takenB >= freed - 1 && takenB > 0, `b took ${takenB} after ${freed} records were freed`);
      assert.ok(a.stats().bufferedBytes + b.stats().bufferedBytes <= 200 * KB);
    });

    test('expire and abortAll give memory back to the pool', () => {
      const pool = backend.createBufferPool(50 * KB);
      const a = backend.createAccumulator(config({ pool }));
      a.append(0, Array.from({ length: 100 }, (_, i) => rec(i, 1000)), 10);
      assert.ok(pool.available() < 2 * KB);
      a.expire(10);
      assert.equal(pool.available(), 50 * KB);
      a.append(0, [rec(0, 1000)], 20);
      a.abortAll();
      assert.equal(pool.available(), 50 * KB);
    });

    test('without a pool, each accumulator has its own limit from bufferMemory (as before)', () => {
      const a = backend.createAccumulator(config({ bufferMemory: 20 * KB }));
      const b = backend.createAccumulator(config({ bufferMemory: 20 * KB }));
      const records = Array.from({ length: 100 }, (_, i) => rec(i, 1000));
      const takenA = a.append(0, records, 0).appended;
      const takenB = b.append(0, records, 0).appended;
      assert.equal(takenA, takenB);
      assert.ok(takenA >= 18 && takenA < 20, `took ${takenA}`);
    });

    test('when the pool holds nothing, a record larger than it is still taken', () => {
      const pool = backend.createBufferPool(500);
      const a = backend.createAccumulator(config({ pool }));
      const b = backend.createAccumulator(config({ pool }));
      assert.equal(a.append(0, [rec(0, 2000)], 0).appended, 1);
      assert.equal(b.append(0, [rec(0, 10)], 0).appended, 0, 'another accumulator holds the pool');
      assert.equal(pool.available(), 0);
    });

    test('an unlimited pool, and pool arguments that are refused', () => {
      assert.equal(backend.createBufferPool(Infinity).available(), Infinity);
      assert.throws(() => backend.createBufferPool(-1), RangeError);
      assert.throws(() => backend.createBufferPool(NaN), RangeError);
      assert.throws(() => backend.createBufferPool('1' as unknown as number), TypeError);
      const fake = { available: () => 1, total: () => 1 };
      assert.throws(() => backend.createAccumulator(config({ pool: fake })), TypeError);
    });
  });
}

const both = availableBackends();
if (both.length === 2) {
  test('a pool of one backend is refused by the other', () => {
    const [x, y] = both;
    assert.throws(() => x!.backend.createAccumulator(config({ pool: y!.backend.createBufferPool(1000) })), TypeError);
    assert.throws(() => y!.backend.createAccumulator(config({ pool: x!.backend.createBufferPool(1000) })), TypeError);
  });
}
