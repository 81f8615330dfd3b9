import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CodecId, type BatchHeaderInput, type RecordInput } from '../../../ts/backend/types.js';
import { crc32c } from '../../../ts/protocol/crc32c.js';
import { initCodecs } from '../../../ts/compression/index.js';
import {
  decodeRecordBatches,
  encodeRecord,
  encodeRecordBatch,
  RECORD_BATCH_OVERHEAD,
  recordSizeUpperBound,
  writeBatchHeader,
} from '../../../ts/protocol/record-batch.js';
import { Writer } from '../../../ts/protocol/writer.js';
import { KAFKAJS_BATCH_HEX, KAFKAJS_RECORDS, KAFKAJS_TIMESTAMP } from '../../vectors/kafkajs-produce-v3.js';
import { prng } from '../../helpers/prng.js';

const b = (s: string): Buffer => Buffer.from(s);

/** Bit-at-a-time CRC32C: an implementation independent of the one under test. */
function crc32cBitwise(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of buf) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

// Three records written out by hand from the v2 grammar (see the top of record-batch.ts).
const GOLDEN_RECORDS: RecordInput[] = [
  { key: null, value: b('v1'), headers: null, timestamp: 1_700_000_000_000 },
  { key: b('k'), value: b('hello'), headers: [{ key: 'h', value: b('x') }], timestamp: 1_700_000_000_005 },
  // earlier than the first record: a negative timestamp delta
  { key: b('k2'), value: null, headers: [{ key: 'e', value: null }], timestamp: 1_699_999_999_999 },
];
const GOLDEN_HEADER: BatchHeaderInput = {
  producerId: 1000n,
  producerEpoch: 2,
  baseSequence: 7,
  transactional: false,
  codec: CodecId.None,
};
const GOLDEN_CRC = 'e1c5c97a';
const GOLDEN_HEX = [
  '0000000000000000', // baseOffset 0
  '00000057', // batchLength: 99 bytes in all - 12 = 87
  'ffffffff', // partitionLeaderEpoch -1
  '02', // magic 2
  GOLDEN_CRC, // crc32c of everything after this field
  '0000', // attributes: codec none, create time, not transactional, not control
  '00000002', // lastOffsetDelta 2
  '0000018bcfe56800', // baseTimestamp 1700000000000 = 0x18bcfe56800
  '0000018bcfe56805', // maxTimestamp 1700000000005
  '00000000000003e8', // producerId 1000
  '0002', // producerEpoch 2
  '00000007', // baseSequence 7
  '00000003', // recordCount 3
  // record 0 (9 bytes)
  '10', // length 8 (zig-zag 16)
  '00', // attributes
  '00', // timestampDelta 0
  '00', // offsetDelta 0
  '01', // keyLength -1 (null key)
  '04', // valueLength 2
  '7631', // "v1"
  '00', // 0 headers
  // record 1 (17 bytes)
  '20', // length 16
  '00', // attributes
  '0a', // timestampDelta 5
  '02', // offsetDelta 1
  '02', // keyLength 1
  '6b', // "k"
  '0a', // valueLength 5
  '68656c6c6f', // "hello"
  '02', // 1 header
  '02', // header key length 1
  '68', // "h"
  '02', // header value length 1
  '78', // "x"
  // record 2 (12 bytes)
  '16', // length 11
  '00', // attributes
  '01', // timestampDelta -1
  '04', // offsetDelta 2
  '04', // keyLength 2
  '6b32', // "k2"
  '01', // valueLength -1 (null value)
  '02', // 1 header
  '02', // header key length 1
  '65', // "e"
  '01', // header value length -1 (null)
].join('');

describe('record batch v2: golden bytes', () => {
  it('the hand-written CRC is the CRC32C of bytes 21..end (independent bitwise CRC)', () => {
    const golden = Buffer.from(GOLDEN_HEX, 'hex');
    assert.equal(golden.length, 99);
    assert.equal(crc32cBitwise(golden.subarray(21)).toString(16).padStart(8, '0'), GOLDEN_CRC);
  });

  it('encodeRecordBatch produces exactly the hand-written bytes', () => {
    const out = encodeRecordBatch(GOLDEN_RECORDS, GOLDEN_HEADER);
    assert.equal(out.toString('hex'), GOLDEN_HEX);
  });

  it('the decoder reads the hand-written bytes back', () => {
    const [batch, ...rest] = decodeRecordBatches(Buffer.from(GOLDEN_HEX, 'hex'));
    assert.equal(rest.length, 0);
    assert.equal(batch.crcValid, true);
    assert.equal(batch.crc, 0xe1c5c97a);
    assert.equal(batch.magic, 2);
    assert.equal(batch.partitionLeaderEpoch, -1);
    assert.equal(batch.lastOffsetDelta, 2);
    assert.equal(batch.baseTimestamp, 1_700_000_000_000);
    assert.equal(batch.maxTimestamp, 1_700_000_000_005);
    assert.equal(batch.producerId, 1000n);
    assert.equal(batch.producerEpoch, 2);
    assert.equal(batch.baseSequence, 7);
    assert.deepEqual(
      batch.records.map((r) => ({ ...r, key: r.key?.toString() ?? null, value: r.value?.toString() ?? null, headers: r.headers.map((h) => [h.key, h.value?.toString() ?? null]) })),
      [
        { offset: 0n, timestamp: 1_700_000_000_000, key: null, value: 'v1', headers: [] },
        { offset: 1n, timestamp: 1_700_000_000_005, key: 'k', value: 'hello', headers: [['h', 'x']] },
        { offset: 2n, timestamp: 1_699_999_999_999, key: 'k2', value: null, headers: [['e', null]] },
      ],
    );
  });
});

describe('record batch v2: the KafkaJS vector', () => {
  const kafkajsRecords: RecordInput[] = KAFKAJS_RECORDS.map((r) => ({
    key: b(r.key),
    value: b(r.value),
    headers: r.headers.map(([key, value]) => ({ key, value: b(value) })),
    timestamp: KAFKAJS_TIMESTAMP,
  }));

  it('encodeRecord + writeBatchHeader with KafkaJS header values reproduce its bytes', () => {
    const w = new Writer();
    w.reserve(RECORD_BATCH_OVERHEAD);
    kafkajsRecords.forEach((r, i) => encodeRecord(w, r, i, 0));
    const out = w.finish();
    writeBatchHeader(
      out,
      out.length - RECORD_BATCH_OVERHEAD,
      {
        baseOffset: 0n,
        partitionLeaderEpoch: 0,
        attributes: 0,
        lastOffsetDelta: 2,
        baseTimestamp: KAFKAJS_TIMESTAMP,
        maxTimestamp: KAFKAJS_TIMESTAMP,
        producerId: -1n,
        producerEpoch: 0,
        baseSequence: 10,
        recordCount: 3,
      },
      crc32c,
    );
    assert.equal(out.toString('hex'), KAFKAJS_BATCH_HEX);
  });

  it('decodes with a valid CRC', () => {
    const [batch] = decodeRecordBatches(Buffer.from(KAFKAJS_BATCH_HEX, 'hex'));
    assert.equal(batch.crcValid, true);
    assert.equal(batch.crc, 0xd20a45ed);
    assert.equal(batch.baseSequence, 10);
    assert.deepEqual(
      batch.records.map((r) => [r.key?.toString(), r.value?.toString(), r.headers.map((h) => `${h.key}=${h.value?.toString()}`)]),
      KAFKAJS_RECORDS.map((r) => [r.key, r.value, r.headers.map(([k, v]) => `${k}=${v}`)]),
    );
  });
});

function randomBytes(rand: () => number, max: number): Buffer | null {
  if (rand() < 0.15) return null;
  const n = Math.floor(rand() ** 3 * max);
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rand() * 256);
  return out;
}

function randomRecords(rand: () => number): RecordInput[] {
  const n = 1 + Math.floor(rand() * 40);
  const base = Math.floor(rand() * 2 ** 41);
  return Array.from({ length: n }, () => ({
    key: randomBytes(rand, 64),
    value: randomBytes(rand, 3000),
    headers:
      rand() < 0.5
        ? null
        : Array.from({ length: Math.floor(rand() * 4) }, (_, i) => ({ key: `hdr-${i}-ü${'x'.repeat(Math.floor(rand() * 5))}`, value: randomBytes(rand, 20) })),
    // mostly increasing, sometimes earlier than the first, sometimes far later
    timestamp: base + Math.floor((rand() - 0.1) * (rand() < 0.05 ? 2 ** 40 : 10_000)),
  }));
}

describe('record batch v2: round trips', () => {
  it('random batches decode to what was encoded, with valid CRCs and sizes within the bound', () => {
    const rand = prng(42);
    for (let iter = 0; iter < 200; iter++) {
      const records = randomRecords(rand);
      const header: BatchHeaderInput = {
        producerId: rand() < 0.5 ? -1n : BigInt(Math.floor(rand() * 2 ** 40)),
        producerEpoch: rand() < 0.5 ? -1 : Math.floor(rand() * 32767),
        baseSequence: rand() < 0.5 ? -1 : Math.floor(rand() * 2 ** 31),
        transactional: rand() < 0.3,
        codec: CodecId.None,
      };
      const out = encodeRecordBatch(records, header);
      let bound = RECORD_BATCH_OVERHEAD;
      for (const r of records) bound += recordSizeUpperBound(r.key?.length ?? -1, r.value?.length ?? -1, r.headers);
      assert.ok(out.length <= bound, `size ${out.length} above the bound ${bound}`);

      const [batch, ...rest] = decodeRecordBatches(out);
      assert.equal(rest.length, 0);
      assert.equal(batch.crcValid, true);
      assert.equal(batch.attributes, header.transactional ? 0x10 : 0);
      assert.equal(batch.producerId, header.producerId);
      assert.equal(batch.producerEpoch, header.producerEpoch);
      assert.equal(batch.baseSequence, header.baseSequence);
      assert.equal(batch.lastOffsetDelta, records.length - 1);
      assert.equal(batch.baseTimestamp, records[0].timestamp);
      assert.equal(batch.maxTimestamp, Math.max(...records.map((r) => r.timestamp)));
      assert.equal(batch.records.length, records.length);
      batch.records.forEach((got, i) => {
        const want = records[i];
        assert.equal(got.offset, BigInt(i));
        assert.equal(got.timestamp, want.timestamp);
        assert.deepEqual(got.key, want.key);
        assert.deepEqual(got.value, want.value);
        assert.deepEqual(got.headers, (want.headers ?? []).map((h) => ({ key: h.key, value: h.value })));
      });
    }
  });

  it('several batches back to back decode in order', () => {
    const a = encodeRecordBatch(GOLDEN_RECORDS, GOLDEN_HEADER);
    const c = encodeRecordBatch([{ key: null, value: b('z'), headers: null, timestamp: 5 }], { ...GOLDEN_HEADER, baseSequence: 10 });
    const batches = decodeRecordBatches(Buffer.concat([a, c]));
    assert.deepEqual(batches.map((x) => [x.baseSequence, x.records.length, x.crcValid]), [[7, 3, true], [10, 1, true]]);
  });

  it('the bound is tight for a record with the largest deltas', () => {
    const r: RecordInput = { key: b('key'), value: Buffer.alloc(100), headers: [{ key: 'h', value: null }], timestamp: 0 };
    const w = new Writer();
    encodeRecord(w, r, 0x7fffffff, Number.MAX_SAFE_INTEGER);
    assert.ok(w.length <= recordSizeUpperBound(3, 100, r.headers));
    assert.ok(recordSizeUpperBound(3, 100, r.headers) - w.length <= 3);
  });
});

describe('record batch v2: errors and CRC checks', () => {
  it('a flipped byte anywhere after the CRC makes crcValid false', () => {
    const good = Buffer.from(GOLDEN_HEX, 'hex');
    // flip bytes in the header part that the decoder does not validate itself
    for (const at of [21, 30, 45, 52, 55]) {
      const bad = Buffer.from(good);
      bad[at] ^= 0x01;
      const [batch] = decodeRecordBatches(bad);
      assert.equal(batch.crcValid, false, `byte ${at}`);
    }
    // a flipped value byte (record 1, "hello")
    const bad = Buffer.from(good);
    bad[61 + 9 + 7] ^= 0x20;
    const [batch] = decodeRecordBatches(bad);
    assert.equal(batch.crcValid, false);
    assert.equal(batch.records[1].value?.toString(), 'Hello');
  });

  it('uses the CRC function it is given', () => {
    const out = encodeRecordBatch(GOLDEN_RECORDS, GOLDEN_HEADER, () => 0xdeadbeef);
    assert.equal(out.readUInt32BE(17), 0xdeadbeef);
    assert.equal(decodeRecordBatches(out)[0].crcValid, false);
    assert.equal(decodeRecordBatches(out, () => 0xdeadbeef)[0].crcValid, true);
  });

  it('refuses empty batches', () => {
    assert.throws(() => encodeRecordBatch([], GOLDEN_HEADER), /at least one record/);
  });

  it('compressed batches: codec bits set, CRC over the compressed bytes, records round trip', async () => {
    await initCodecs();
    // Compressible records, so that every codec keeps its compressed form.
    const records: RecordInput[] = Array.from({ length: 200 }, (_, i) => ({
      key: Buffer.from(`key-${i % 10}`),
      value: Buffer.from(JSON.stringify({ id: i, name: 'alpha beta gamma', tags: ['x', 'y', 'z'] })),
      headers: i % 2 ? [{ key: 'h', value: Buffer.from('v') }] : null,
      timestamp: 1_700_000_000_000 + i,
    }));
    const plain = encodeRecordBatch(records, GOLDEN_HEADER);
    for (const codec of [CodecId.Gzip, CodecId.Snappy, CodecId.Lz4, CodecId.Zstd]) {
      const batch = encodeRecordBatch(records, { ...GOLDEN_HEADER, codec });
      assert.ok(batch.length < plain.length, `codec ${codec} made the batch smaller`);
      assert.equal(batch.readInt16BE(21) & 0x07, codec, 'codec bits');
      assert.equal(crc32c(batch.subarray(21)), batch.readUInt32BE(17), 'CRC covers the compressed bytes');
      const [decoded] = decodeRecordBatches(batch);
      assert.equal(decoded!.records.length, records.length);
      decoded!.records.forEach((r, i) => {
        assert.deepEqual(r.key, records[i]!.key);
        assert.deepEqual(r.value, records[i]!.value);
        assert.equal(r.timestamp, records[i]!.timestamp);
      });
    }
  });

  it('keeps a batch uncompressed when compression would not make it smaller', () => {
    const random = Buffer.alloc(4000);
    for (let i = 0; i < random.length; i++) random[i] = (i * 2654435761) >>> 24;
    const records: RecordInput[] = [{ key: null, value: random, headers: null, timestamp: 1 }];
    const plain = encodeRecordBatch(records, GOLDEN_HEADER);
    const gz = encodeRecordBatch(records, { ...GOLDEN_HEADER, codec: CodecId.Gzip });
    if (gz.length === plain.length) {
      assert.deepEqual(gz, plain, 'identical to the uncompressed batch, codec bits 0');
    } else {
      assert.ok(gz.length < plain.length);
    }
    const tiny = encodeRecordBatch([{ key: null, value: Buffer.from('x'), headers: null, timestamp: 1 }], {
      ...GOLDEN_HEADER,
      codec: CodecId.Gzip,
    });
    assert.equal(tiny.readInt16BE(21) & 0x07, 0, 'a 1-byte record does not shrink under gzip: sent uncompressed');
  });

  it('writeBatchHeader checks the buffer size', () => {
    assert.throws(
      () =>
        writeBatchHeader(Buffer.alloc(70), 10, {
          baseOffset: 0, partitionLeaderEpoch: -1, attributes: 0, lastOffsetDelta: 0, baseTimestamp: 0,
          maxTimestamp: 0, producerId: -1n, producerEpoch: -1, baseSequence: -1, recordCount: 1,
        }, crc32c),
      /expected 61 \+ 10/,
    );
  });

  it('the decoder rejects truncation, a wrong magic and corrupt compressed batches with clear errors', () => {
    const good = Buffer.from(GOLDEN_HEX, 'hex');
    assert.throws(() => decodeRecordBatches(good.subarray(0, 80)), /truncated record batch/);
    const magic1 = Buffer.from(good);
    magic1[16] = 1;
    assert.throws(() => decodeRecordBatches(magic1), /magic 1/);
    const gz = Buffer.from(good);
    gz[22] = 1; // claims gzip, but the records are not gzip data
    assert.throws(() => decodeRecordBatches(gz), /gzip/);
    const badRecordLength = Buffer.from(good);
    badRecordLength[61] = 0x12; // record 0 claims 9 bytes instead of 8
    assert.throws(() => decodeRecordBatches(badRecordLength), /Record at offset 61 declared 9 bytes but its fields took 8 \(record batch\)/);
  });

  it('log-append-time batches give every record the max timestamp', () => {
    const out = Buffer.from(GOLDEN_HEX, 'hex');
    out[22] = 0x08;
    const [batch] = decodeRecordBatches(out);
    assert.deepEqual(batch.records.map((r) => r.timestamp), [1_700_000_000_005, 1_700_000_000_005, 1_700_000_000_005]);
  });
});
