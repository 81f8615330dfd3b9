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
