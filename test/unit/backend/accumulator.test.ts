/**
 * The RecordAccumulator contract, run on every backend this machine has.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { availableBackends } from '../../helpers/backends.js';
import { CodecId, type AccumulatorConfig, type RecordInput } from '../../../ts/backend/types.js';
import { decodeRecordBatches } from '../../../ts/protocol/record-batch.js';
import { initCodecs } from '../../../ts/compression/index.js';

const NO_STAMP = { producerId: -1n, producerEpoch: -1, transactional: false, baseSequences: null };

function rec(i: number, size = 10, ts = 1_700_000_000_000 + i): RecordInput {
  return {
    key: i % 2 ? Buffer.from(`k${i}`) : null,
    value: Buffer.alloc(size, i & 0xff),
    headers: i % 3 ? null : [{ key: 'h', value: Buffer.from(`v${i}`) }, { key: 'n', value: null }],
    timestamp: ts,
  };
}

function config(over: Partial<AccumulatorConfig> = {}): AccumulatorConfig {
  return { batchSize: 1024, lingerMs: 50, bufferMemory: 1 << 20, codec: CodecId.None, ...over };
}

for (const { name, backend } of availableBackends()) {
  describe(`RecordAccumulator (${name})`, () => {
    test('append fills one batch until batch.size, then opens the next', () => {
      const acc = backend.createAccumulator(config({ batchSize: 200 }));
      const records = Array.from({ length: 20 }, (_, i) => rec(i, 20));
      const res = acc.append(0, records, 1000);
      assert.equal(res.appended, 20);
      // pairs of [batchId, count]; counts add up; more than one batch
      let total = 0;
      for (let i = 0; i < res.batches.length; i += 2) total += res.batches[i + 1]!;
      assert.equal(total, 20);
      assert.ok(res.batches.length / 2 > 1);
      // the first batch is full so it is ready at once, even before linger
      const ready = acc.ready(1000, false);
      assert.deepEqual(ready.partitions, [0]);
    });

    test('the records of one append call stay in one batch past batch.size, up to maxBatchSize', () => {
      const acc = backend.createAccumulator(config({ batchSize: 200, maxBatchSize: 4000 }));
      const records = Array.from({ length: 20 }, (_, i) => rec(i, 20));
      const res = acc.append(0, records, 1000);
      assert.equal(res.appended, 20);
      assert.equal(res.batches.length, 2, `one batch for the whole call: ${JSON.stringify(res.batches)}`);
      assert.equal(res.batches[1], 20);
      // It ended the call past batch.size: full, ready before linger, and closed to later records.
      assert.deepEqual(acc.ready(1000, false).partitions, [0]);
      const next = acc.append(0, [rec(20, 20)], 1000);
      assert.notEqual(next.batches[0], res.batches[0], 'a later call opens the next batch');
      const drained = acc.drain([0], 1 << 20, NO_STAMP);
      assert.equal(drained.length, 1);
      assert.ok(drained[0]!.bytes.length > 200 && drained[0]!.bytes.length <= 4000, `${drained[0]!.bytes.length} bytes`);
      const [b] = decodeRecordBatches(drained[0]!.bytes);
      assert.ok(b!.crcValid);
      assert.deepEqual(b!.records.map((r) => r.value), records.map((r) => r.value));
    });

    test("a call's run past maxBatchSize opens the next batch; none passes maxBatchSize", () => {
      const maxBatchSize = 3000;
      const acc = backend.createAccumulator(config({ batchSize: 500, maxBatchSize }));
      const records = Array.from({ length: 300 }, (_, i) => rec(i, 50));
      const res = acc.append(3, records, 0);
      assert.equal(res.appended, 300);
      const values: (Buffer | null)[] = [];
      while (acc.hasUndrained()) {
        for (const d of acc.drain([3], 1 << 20, NO_STAMP)) {
          assert.ok(d.bytes.length <= maxBatchSize, `a batch of ${d.bytes.length} bytes`);
          const [b] = decodeRecordBatches(d.bytes);
          assert.ok(b!.crcValid);
          for (const r of b!.records) values.push(r.value);
        }
      }
      assert.ok(res.batches.length / 2 >= 300 * 60 / maxBatchSize, `${res.batches.length / 2} batches`);
      assert.deepEqual(values, records.map((r) => r.value));
    });

    test('records appended one call at a time still close a batch at batch.size', () => {
      const acc = backend.createAccumulator(config({ batchSize: 300, maxBatchSize: 1 << 20 }));
      const ids = new Set<number>();
      for (let i = 0; i < 40; i++) ids.add(acc.append(0, [rec(i, 20)], 0).batches[0]!);
      assert.ok(ids.size > 1, 'more than one batch');
      while (acc.hasUndrained()) for (const d of acc.drain([0], 1 << 20, NO_STAMP)) assert.ok(d.bytes.length <= 300, `${d.bytes.length} bytes`);
    });

    test('a growing batch still stops at buffer.memory, and takes the rest once memory is freed', () => {
      const acc = backend.createAccumulator(config({ batchSize: 1000, maxBatchSize: 1 << 20, bufferMemory: 5000 }));
      const records = Array.from({ length: 100 }, (_, i) => rec(i, 100));
      const first = acc.append(0, records, 0);
      assert.ok(first.appended > 10 && first.appended < 100, `appended ${first.appended}`);
      assert.equal(first.batches.length, 2, 'what fits is one batch');
      assert.ok(acc.stats().bufferedBytes <= 5000, `${acc.stats().bufferedBytes} bytes held`);
      const drained = acc.drain([0], 1 << 20, NO_STAMP);
      acc.complete(drained.map((d) => ({ batchId: d.batchId, errorCode: 0 })));
      assert.equal(acc.stats().bufferedBytes, 0);
      assert.ok(acc.append(0, records.slice(first.appended), 0).appended > 0);
    });

    test('maxBatchSize below batchSize, or not a number, is refused', () => {
      assert.throws(() => backend.createAccumulator(config({ batchSize: 1000, maxBatchSize: 999 })), RangeError);
      assert.throws(() => backend.createAccumulator(config({ maxBatchSize: 2 ** 31 })), RangeError);
      assert.throws(() => backend.createAccumulator(config({ maxBatchSize: NaN })), TypeError);
      assert.throws(() => backend.createAccumulator(config({ maxBatchSize: '4096' as unknown as number })), TypeError);
      backend.createAccumulator(config({ batchSize: 1000, maxBatchSize: 1000 })).destroy();
    });

    test('one append call larger than any scratch space: every record intact (keys, values, headers)', () => {
      const acc = backend.createAccumulator(config({ batchSize: 1 << 16, bufferMemory: 1 << 26 }));
      const records = Array.from({ length: 5000 }, (_, i) => ({
        key: Buffer.from(`k${i % 7}`),
        value: Buffer.from(`value-${i}-`.padEnd(60 + (i % 90), 'v')),
        headers: i % 3 ? null : [{ key: `h${i % 5}`, value: Buffer.from(`hv${i}`) }],
        timestamp: 1_700_000_000_000 + (i % 100),
      }));
      assert.equal(acc.append(0, records, 0).appended, records.length);
      const got = [];
      while (acc.hasUndrained()) {
        for (const d of acc.drain([0], 1 << 30, NO_STAMP)) got.push(...decodeRecordBatches(d.bytes)[0]!.records);
      }
      assert.equal(got.length, records.length);
      got.forEach((r, i) => {
        assert.deepEqual(r.key, records[i]!.key, `key ${i}`);
        assert.deepEqual(r.value, records[i]!.value, `value ${i}`);
        assert.equal(r.timestamp, records[i]!.timestamp, `timestamp ${i}`);
        assert.deepEqual(r.headers, records[i]!.headers ?? [], `headers ${i}`);
      });
    });

    test('a lone batch becomes ready after linger.ms, or at once when flushing', () => {
      const acc = backend.createAccumulator(config({ lingerMs: 50 }));
      acc.append(3, [rec(1)], 1000);
      const early = acc.ready(1010, false);
      assert.deepEqual(early.partitions, []);
      assert.equal(early.nextReadyInMs, 40);
      assert.deepEqual(acc.ready(1010, true).partitions, [3]);
      assert.deepEqual(acc.ready(1050, false).partitions, [3]);
    });

    test('drained bytes decode to the appended records, with a valid CRC', () => {
      const acc = backend.createAccumulator(config({ batchSize: 1 << 16 }));
      const records = Array.from({ length: 50 }, (_, i) => rec(i, i * 3, 1_700_000_000_000 + ((i * 37) % 11)));
      acc.append(7, records, 0);
      const drained = acc.drain([7], 1 << 20, NO_STAMP);
      assert.equal(drained.length, 1);
      assert.equal(drained[0]!.recordCount, 50);
      const [batch] = decodeRecordBatches(drained[0]!.bytes);
      assert.ok(batch!.crcValid);
      assert.equal(batch!.baseTimestamp, records[0]!.timestamp);
      assert.equal(batch!.maxTimestamp, Math.max(...records.map((r) => r.timestamp)));
      assert.equal(batch!.records.length, 50);
      batch!.records.forEach((r, i) => {
        assert.deepEqual(r.key, records[i]!.key);
        assert.deepEqual(r.value, records[i]!.value);
        assert.equal(r.timestamp, records[i]!.timestamp);
        assert.deepEqual(
          r.headers,
          (records[i]!.headers ?? []).map((h) => ({ key: h.key, value: h.value })),
        );
      });
      // and equal the one-shot encoder byte for byte
      const oneShot = backend.encodeRecordBatch(records, {
        producerId: -1n,
        producerEpoch: -1,
        baseSequence: -1,
        transactional: false,
        codec: CodecId.None,
      });
      assert.deepEqual(drained[0]!.bytes, oneShot);
    });

    test('drain takes one batch per partition, stops at maxBytes, always takes the first', () => {
      const acc = backend.createAccumulator(config({ batchSize: 100 }));
      for (let p = 0; p < 4; p++) acc.append(p, [rec(p, 500)], 0);
      const one = acc.drain([0, 1, 2, 3], 10, NO_STAMP);
      assert.deepEqual(one.map((d) => d.partition), [0]);
      const rest = acc.drain([1, 2, 3], 1 << 20, NO_STAMP);
      assert.deepEqual(rest.map((d) => d.partition), [1, 2, 3]);
      assert.equal(acc.hasUndrained(), false);
    });

    test('the producer stamp goes into the batch header', () => {
      const acc = backend.createAccumulator(config());
      acc.append(0, [rec(1), rec(2)], 0);
      const [d] = acc.drain([0], 1 << 20, { producerId: 4242n, producerEpoch: 3, transactional: true, baseSequences: [17] });
      const [b] = decodeRecordBatches(d!.bytes);
      assert.equal(b!.producerId, 4242n);
      assert.equal(b!.producerEpoch, 3);
      assert.equal(b!.baseSequence, 17);
      assert.equal(b!.attributes & 0x10, 0x10);
      assert.ok(b!.crcValid);
    });

    test('buffer.memory: append takes what fits; complete() frees memory for the rest', () => {
      const acc = backend.createAccumulator(config({ batchSize: 1000, bufferMemory: 3000 }));
      const records = Array.from({ length: 10 }, (_, i) => rec(i, 900));
      const first = acc.append(0, records, 0);
      assert.ok(first.appended >= 1 && first.appended < 10, `appended ${first.appended}`);
      assert.ok(acc.stats().bufferedBytes <= 3000);
      const drained = acc.drain([0], 1 << 20, NO_STAMP);
      // drained batches still hold memory until complete()
      assert.equal(acc.append(0, records.slice(first.appended), 0).appended < 10 - first.appended, true);
      acc.complete(drained.map((d) => ({ batchId: d.batchId, errorCode: 0 })));
      const again = acc.append(0, records.slice(first.appended), 0);
      assert.ok(again.appended >= 1);
      assert.equal(acc.stats().recordsCompleted, drained.reduce((n, d) => n + d.recordCount, 0));
    });

    test('expire removes undrained batches created before the cutoff; abortAll removes the rest', () => {
      const acc = backend.createAccumulator(config({ batchSize: 100 }));
      acc.append(0, [rec(0, 200)], 100);
      acc.append(1, [rec(1, 200)], 200);
      const expired = acc.expire(150);
      assert.deepEqual(expired.map((e) => e.partition), [0]);
      const aborted = acc.abortAll();
      assert.deepEqual(aborted.map((e) => [e.partition, e.recordCount]), [[1, 1]]);
      assert.equal(acc.hasUndrained(), false);
      assert.equal(acc.stats().bufferedBytes, 0);
      assert.equal(acc.stats().recordsFailed, 2);
    });

    test('compression: each codec compresses at drain, the batch decodes with the TypeScript decoder', async () => {
      await initCodecs();
      const records = Array.from({ length: 300 }, (_, i) => ({
        key: Buffer.from(`user-${i % 20}`),
        value: Buffer.from(JSON.stringify({ id: i, event: i % 3 ? 'click' : 'view', amount: (i * 37) % 1000 })),
        headers: i % 5 ? null : [{ key: 'trace', value: Buffer.from(`t${i}`) }],
        timestamp: 1_700_000_000_000 + i,
      }));
      for (const codec of [CodecId.Gzip, CodecId.Snappy, CodecId.Lz4, CodecId.Zstd]) {
        for (const compressionLevel of [undefined, codec === CodecId.Zstd ? 1 : codec === CodecId.Snappy ? undefined : 2]) {
          const acc = backend.createAccumulator(config({ batchSize: 1 << 20, codec, compressionLevel }));
          acc.append(0, records, 0);
          const before = acc.stats().bufferedBytes;
          const [d] = acc.drain([0], 1 << 30, NO_STAMP);
          assert.equal(d!.bytes.readInt16BE(21) & 0x07, codec, `codec ${codec} bits`);
          assert.ok(d!.bytes.length < before, 'compressed is smaller than what was appended');
          const [b] = decodeRecordBatches(d!.bytes);
          assert.ok(b!.crcValid, 'CRC over the compressed bytes');
          assert.deepEqual(b!.records.map((r) => r.value), records.map((r) => r.value));
          assert.deepEqual(b!.records.map((r) => r.key), records.map((r) => r.key));
          // buffer.memory is freed by what was counted at append, not by the compressed size
          acc.complete([{ batchId: d!.batchId, errorCode: 0 }]);
          assert.equal(acc.stats().bufferedBytes, 0);
          const oneShot = backend.encodeRecordBatch(records, { producerId: -1n, producerEpoch: -1, baseSequence: -1, transactional: false, codec, compressionLevel });
          assert.equal(oneShot.readInt16BE(21) & 0x07, codec);
          assert.deepEqual(decodeRecordBatches(oneShot)[0]!.records.map((r) => r.value), records.map((r) => r.value));
        }
      }
    });

    test('compression that does not shrink a batch leaves it uncompressed (codec bits 0)', () => {
      const acc = backend.createAccumulator(config({ codec: CodecId.Gzip }));
      acc.append(0, [{ key: null, value: Buffer.from('x'), headers: null, timestamp: 5 }], 0);
      const [d] = acc.drain([0], 1 << 20, NO_STAMP);
      assert.equal(d!.bytes.readInt16BE(21) & 0x07, 0);
      assert.ok(decodeRecordBatches(d!.bytes)[0]!.crcValid);
    });

    test('crc32c matches the RFC 3720 vector', () => {
      assert.equal(backend.crc32c(Buffer.alloc(32, 0)), 0x8a9136aa);
      assert.equal(backend.crc32c(Buffer.from('123456789')), 0xe3069283);
    });
  });
}
