/**
 * Property-based fuzzing of every response decoder (issue 8, "Must show" 6): ApiVersions
 * v0-v3, Metadata v1-v12, Produce v3-v11, the response header v0/v1 and the record batch v2
 * decoder (uncompressed and through every codec of the fallback). For each:
 *
 *   (a) valid responses, generated from the decoded structure and encoded by a test-side
 *       encoder (test/helpers/fuzz/encoders.ts) or the project's batch encoder, decode back
 *       to what was generated, consuming every byte;
 *   (b) every truncation of a valid encoding,
 *   (c) valid encodings with a byte flipped, an int32/int16/varint overwritten with a hostile
 *       value (counts of 2^31-1 on a few bytes, negative lengths, varints that never end),
 *       bytes inserted or deleted, and a sweep that writes each hostile value at every offset,
 *   (d) pure garbage,
 *
 * either decode to a value or throw ProtocolDecodeError (non-retriable, code
 * PROTOCOL_DECODE_ERROR, naming the decoder). Anything else (RangeError, TypeError, a codec's
 * own error, an allocation of 2^31 elements) fails the test. Hangs are ruled out by
 * construction, not by a timer: every count is checked against the bytes left before a loop
 * or an allocation uses it, and the hostile values above are exactly the inputs that would
 * hang or run out of memory in a decoder that trusted them.
 *
 * The suite runs a bounded number of cases (FUZZ_RUNS, default below, sized so the file takes
 * a few seconds). A longer run by hand:
 *
 *   npm run build && FUZZ_RUNS=200000 node --test out/test/unit/protocol/fuzz.test.js
 *
 * (FUZZ_RUNS=20000 took about 2 minutes of CPU here, so 200000 takes about 20.)
 * A failure prints fast-check's seed and path; replay it with FUZZ_SEED=<seed> FUZZ_PATH=<path>
 * and, once fixed, add the input to the regression cases at the end of this file.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { CodecId, type RecordInput } from '../../../ts/backend/types.js';
import { initCodecs } from '../../../ts/compression/index.js';
import { KafkaJSNonRetriableError, ProtocolDecodeError } from '../../../ts/errors.js';
import { BrokerConnection } from '../../../ts/net/connection.js';
import { ApiVersions } from '../../../ts/protocol/api-versions.js';
import { crc32c } from '../../../ts/protocol/crc32c.js';
import { Metadata } from '../../../ts/protocol/metadata.js';
import { Produce } from '../../../ts/protocol/produce.js';
import { Reader } from '../../../ts/protocol/reader.js';
import { decodeRecordBatches, encodeRecordBatch, RECORD_BATCH_OVERHEAD, writeBatchHeader } from '../../../ts/protocol/record-batch.js';
import { readResponseHeader } from '../../../ts/protocol/request-header.js';
import * as A from '../../helpers/fuzz/arbitraries.js';
import { rec } from '../../helpers/fuzz/arbitraries.js';
import {
  encodeApiVersionsResponse,
  encodeMetadataResponse,
  encodeProduceResponse,
  encodeResponseHeader,
  type Extras,
  type UnknownTag,
} from '../../helpers/fuzz/encoders.js';
import { applyMutation, hostileSweep, mutation, truncations } from '../../helpers/fuzz/mutate.js';

/** Cases per cheap property (one decode per case: round trips, random mutations, garbage). */
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 30);
/** The exhaustive properties decode each sample once per byte (truncations) or twenty times
 * per byte (the hostile sweep), so they take fewer samples. */
const TRUNCATION_RUNS = Math.max(3, Math.ceil(RUNS / 100));
const SWEEP_RUNS = Math.max(1, Math.ceil(RUNS / 2000));
const replay: Partial<fc.Parameters<unknown>> =
  process.env['FUZZ_SEED'] !== undefined
    ? { seed: Number(process.env['FUZZ_SEED']), path: process.env['FUZZ_PATH'], endOnFailure: true }
    : {};
const params = (numRuns: number): fc.Parameters<unknown> => ({ numRuns, includeErrorInReport: true, ...replay });

/** Runs `decode`: it may return anything, or throw a ProtocolDecodeError that names `context`. */
function decodesOrRefuses(context: string, input: Buffer, decode: (buf: Buffer) => unknown): void {
  try {
    decode(input);
  } catch (e) {
    if (!(e instanceof ProtocolDecodeError)) {
      const what = e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e);
      throw new assert.AssertionError({
        message: `${context} on ${input.length} bytes ${input.toString('hex').slice(0, 400)} threw ${what}, not a ProtocolDecodeError`,
      });
    }
    assert.equal(e.retriable, false);
    assert.equal(e.code, 'PROTOCOL_DECODE_ERROR');
    assert.ok(e.message.includes(context), `the error names its decoder (${context}): ${e.message}`);
  }
}

/** One decoder under test: how to make valid inputs and what they must decode to. */
interface Target {
  /** The decoder's name as its errors carry it, e.g. 'Metadata v12'. */
  context: string;
  /** The describe() title, when it is not the context. */
  title?: string;
  /** Valid encodings paired with the value they must decode to. */
  valid: fc.Arbitrary<{ bytes: Buffer; expected: unknown }>;
  decode(buf: Buffer): unknown;
  /** decode + the check that the whole input was read (round trips only). */
  decodeAll(buf: Buffer): unknown;
  /** False where what the input decodes to is not this file's to pin down (then only the
   * properties (b) to (d) run on it). */
  roundTrip?: boolean;
}

function apiTarget<T>(
  context: string,
  arb: fc.Arbitrary<T>,
  encode: (x: T, extras: Extras) => Buffer,
  decode: (r: Reader) => unknown,
): Target {
  return {
    context,
    valid: fc.tuple(arb, A.extras).map(([x, extras]) => ({ bytes: encode(x, extras), expected: x })),
    decode: (buf) => decode(new Reader(buf)),
    decodeAll(buf) {
      const r = new Reader(buf);
      const v = decode(r);
      assert.equal(r.remaining, 0, `${context}: the whole input is read`);
      return v;
    },
  };
}

const targets: Target[] = [];
for (let v = ApiVersions.minVersion; v <= ApiVersions.maxVersion; v++) {
  targets.push(
    apiTarget(`ApiVersions v${v}`, A.apiVersionsResponse(v), (x, e) => encodeApiVersionsResponse(v, x, e), (r) => ApiVersions.decode(v, r)),
  );
}
// A broker that does not support ApiVersions v3 answers UNSUPPORTED_VERSION in the v0 format
// (librdkafka's mock cluster even in a malformed one); the v3 decoder's fallback reads it.
// What it returns is the ApiVersions fallback's business: here only that it never crashes.
targets.push({
  ...apiTarget(
    'ApiVersions v3',
    A.apiVersionsResponse(0).map((x) => ({ ...x, errorCode: 35 })),
    (x, e) => encodeApiVersionsResponse(0, x, e),
    (r) => ApiVersions.decode(3, r),
  ),
  title: 'ApiVersions v3 answered with UNSUPPORTED_VERSION in the v0 format',
  roundTrip: false,
});
for (let v = Metadata.minVersion; v <= Metadata.maxVersion; v++) {
  targets.push(apiTarget(`Metadata v${v}`, A.metadataResponse(v), (x, e) => encodeMetadataResponse(v, x, e), (r) => Metadata.decode(v, r)));
}
for (let v = Produce.minVersion; v <= Produce.maxVersion; v++) {
  targets.push(apiTarget(`Produce v${v}`, A.produceResponse(v), (x, e) => encodeProduceResponse(v, x, e), (r) => Produce.decode(v, r)));
}
for (const flexible of [false, true]) {
  const context = `response header v${flexible ? 1 : 0}`;
  const tags: fc.Arbitrary<UnknownTag[]> = flexible
    ? fc.uniqueArray(rec({ tag: fc.integer({ min: 0, max: 300 }), data: fc.uint8Array({ maxLength: 6 }) }), {
        selector: (t) => t.tag,
        maxLength: 3,
      })
    : fc.constant([]);
  const read = (r: Reader): number => readResponseHeader(r, flexible);
  targets.push({
    context,
    valid: fc.tuple(A.int32, tags).map(([id, t]) => ({ bytes: encodeResponseHeader(id, flexible, t), expected: id })),
    decode: (buf) => read(new Reader(buf)),
    decodeAll(buf) {
      const r = new Reader(buf);
      const id = read(r);
      assert.equal(r.remaining, 0, `${context}: the whole input is read`);
      return id;
    },
  });
}

// ---- record batches -----------------------------------------------------------------------

const bytesOrNull = fc.option(
  fc.oneof(
    fc.uint8Array({ maxLength: 24 }).map((u) => Buffer.from(u)),
    // Repetitive values, so that the codecs keep their compressed form.
    fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 16, max: 300 })).map(([b, n]) => Buffer.alloc(n, b)),
  ),
  { nil: null },
);
const recordArb = rec({
  key: bytesOrNull,
  value: bytesOrNull,
  headers: fc.option(fc.array(rec({ key: A.str, value: bytesOrNull }), { maxLength: 3 }), { nil: null }),
  timestampDelta: A.int32,
});
const batchArb = rec({
  records: fc.array(recordArb, { minLength: 1, maxLength: 5 }),
  baseTimestamp: fc.integer({ min: 0, max: 2 ** 45 }),
  producerId: fc.oneof(fc.constant(-1n), fc.bigInt({ min: 0n, max: (1n << 63n) - 1n })),
  producerEpoch: A.int16,
  baseSequence: A.int32,
  transactional: fc.boolean(),
  codec: fc.constantFrom(CodecId.None, CodecId.Gzip, CodecId.Snappy, CodecId.Lz4, CodecId.Zstd),
  // Fields a producer does not set but a broker (or a fetch) does.
  baseOffset: fc.bigInt({ min: 0n, max: 1n << 62n }),
  partitionLeaderEpoch: A.int32,
  logAppendTime: fc.boolean(),
});
type BatchSpec = typeof batchArb extends fc.Arbitrary<infer T> ? T : never;

function encodeBatch(s: BatchSpec): { bytes: Buffer; expected: unknown } {
  const timestamps = s.records.map((r, i) => s.baseTimestamp + (i === 0 ? 0 : r.timestampDelta));
  const records: RecordInput[] = s.records.map((r, i) => ({ key: r.key, value: r.value, headers: r.headers, timestamp: timestamps[i] }));
  const batch = encodeRecordBatch(records, {
    producerId: s.producerId,
    producerEpoch: s.producerEpoch,
    baseSequence: s.baseSequence,
    transactional: s.transactional,
    codec: s.codec,
  });
  const codecUsed = batch.readInt16BE(21) & 0x07;
  assert.ok(codecUsed === 0 || codecUsed === s.codec, 'the encoder keeps the asked codec or none');
  const maxTimestamp = Math.max(...timestamps);
  const attributes = codecUsed | (s.logAppendTime ? 0x08 : 0) | (s.transactional ? 0x10 : 0);
  writeBatchHeader(
    batch,
    batch.length - RECORD_BATCH_OVERHEAD,
    {
      baseOffset: s.baseOffset,
      partitionLeaderEpoch: s.partitionLeaderEpoch,
      attributes,
      lastOffsetDelta: records.length - 1,
      baseTimestamp: s.baseTimestamp,
      maxTimestamp,
      producerId: s.producerId,
      producerEpoch: s.producerEpoch,
      baseSequence: s.baseSequence,
      recordCount: records.length,
    },
    crc32c,
  );
  return {
    bytes: batch,
    expected: {
      baseOffset: s.baseOffset,
      partitionLeaderEpoch: s.partitionLeaderEpoch,
      magic: 2,
      crc: batch.readUInt32BE(17),
      crcValid: true,
      attributes,
      lastOffsetDelta: records.length - 1,
      baseTimestamp: s.baseTimestamp,
      maxTimestamp,
      producerId: s.producerId,
      producerEpoch: s.producerEpoch,
      baseSequence: s.baseSequence,
      records: records.map((r, i) => ({
        offset: s.baseOffset + BigInt(i),
        timestamp: s.logAppendTime ? maxTimestamp : r.timestamp,
        key: r.key,
        value: r.value,
        headers: r.headers ?? [],
      })),
    },
  };
}

targets.push({
  context: 'record batch',
  // One to three batches back to back, as a Produce request's records field holds them.
  valid: fc.array(batchArb, { minLength: 1, maxLength: 3 }).map((specs) => {
    const each = specs.map(encodeBatch);
    return { bytes: Buffer.concat(each.map((e) => e.bytes)), expected: each.map((e) => e.expected) };
  }),
  decode: (buf) => decodeRecordBatches(buf),
  decodeAll: (buf) => decodeRecordBatches(buf),
});

// ---- the properties -------------------------------------------------------------------------

describe('fuzzed response decoders', () => {
  before(() => initCodecs());

  for (const t of targets) {
    describe(t.title ?? t.context, () => {
      if (t.roundTrip !== false) {
        it('(a) decode(encode(x)) == x', () => {
          fc.assert(
            fc.property(t.valid, ({ bytes, expected }) => {
              assert.deepStrictEqual(t.decodeAll(bytes), expected);
            }),
            params(RUNS),
          );
        });
      }

      it('(b) every truncation decodes or throws ProtocolDecodeError', () => {
        fc.assert(
          fc.property(t.valid, ({ bytes }) => {
            for (const cut of truncations(bytes)) decodesOrRefuses(t.context, cut, t.decode);
          }),
          params(TRUNCATION_RUNS),
        );
      });

      it('(c) random mutations decode or throw ProtocolDecodeError', () => {
        fc.assert(
          fc.property(t.valid, fc.array(mutation, { minLength: 1, maxLength: 3 }), ({ bytes }, ms) => {
            const bad = ms.reduce(applyMutation, bytes);
            decodesOrRefuses(t.context, bad, t.decode);
          }),
          params(RUNS * 2),
        );
      });

      it('(c) each hostile count, length and varint at every offset decodes or throws ProtocolDecodeError', () => {
        fc.assert(
          fc.property(t.valid, ({ bytes }) => {
            for (const bad of hostileSweep(bytes)) decodesOrRefuses(t.context, bad, t.decode);
          }),
          params(SWEEP_RUNS),
        );
      });

      it('(d) garbage decodes or throws ProtocolDecodeError', () => {
        fc.assert(
          fc.property(
            fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u)),
            (garbage) => decodesOrRefuses(t.context, garbage, t.decode),
          ),
          params(RUNS * 2),
        );
      });
    });
  }
});

// ---- hostile counts on tiny inputs, by hand ---------------------------------------------------
// Each would allocate an array of 2^31 elements, or loop for 2^31 iterations, in a decoder that
// trusted the count; each must fail at once, naming the field and the decoder.

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
/** uvarint 2^31 (a compact count of 2^31 - 1) and 2^32 - 1. */
const COMPACT_COUNT_MAX_INT = '8080808008';
const UVARINT_MAX = 'ffffffff0f';

function refuses(decode: () => unknown, message: RegExp): void {
  assert.throws(decode, (e: unknown) => {
    assert.ok(e instanceof ProtocolDecodeError, `a ProtocolDecodeError, got ${String(e)}`);
    assert.match(e.message, message);
    return true;
  });
}

describe('hostile counts and lengths on tiny inputs', () => {
  before(() => initCodecs());

  it('Metadata v12: a topics count of 2^31-1 with 3 bytes left', () => {
    // throttle_time_ms, brokers [] , cluster_id null, controller_id, topics count, 3 bytes
    const body = hex(`00000000 01 00 00000001 ${COMPACT_COUNT_MAX_INT} 000000`);
    refuses(
      () => Metadata.decode(12, new Reader(body)),
      /^topics array count 2147483647 at offset 10 exceeds the 3 bytes left \(Metadata v12\)$/,
    );
  });

  it('Metadata v1: a brokers count of 2^31-1, a negative one, and a replica_nodes count that its int32s cannot fill', () => {
    refuses(() => Metadata.decode(1, new Reader(hex('7fffffff 00'))), /^brokers array count 2147483647 at offset 0 exceeds the 1 bytes left \(Metadata v1\)$/);
    refuses(() => Metadata.decode(1, new Reader(hex('80000000'))), /^brokers array count -2147483648 at offset 0 is negative \(Metadata v1\)$/);
    // brokers [], controller_id, 1 topic: error_code, name "t", is_internal, 1 partition:
    // error_code, index, leader, replica_nodes count 3 with 8 bytes left (3 int32s need 12).
    const body = hex('00000000 00000001 00000001 0000 0001 74 00 00000001 0000 00000000 00000001 00000003 0000000100000002');
    refuses(() => Metadata.decode(1, new Reader(body)), /^replica_nodes array count 3 at offset 32 exceeds the 8 bytes left \(Metadata v1\)$/);
  });

  it('Produce v3 and v11: responses count 2^31-1; a node_endpoints count past its tagged field', () => {
    refuses(() => Produce.decode(3, new Reader(hex('7fffffff'))), /^responses array count 2147483647 at offset 0 exceeds the 0 bytes left \(Produce v3\)$/);
    refuses(() => Produce.decode(11, new Reader(hex(COMPACT_COUNT_MAX_INT))), /^responses array count 2147483647 .*\(Produce v11\)$/);
    // responses [], throttle_time_ms, 1 tagged field: tag 0 (node_endpoints), 2 bytes: a count
    // of 2 whose endpoints would need more than the field's 1 remaining byte.
    refuses(
      () => Produce.decode(11, new Reader(hex('01 00000000 01 00 02 03 00'))),
      /^node_endpoints array count 2 at offset 8 exceeds the 1 bytes left \(Produce v11\)$/,
    );
  });

  it('ApiVersions v0 and v3: api_keys count 2^31-1', () => {
    refuses(() => ApiVersions.decode(0, new Reader(hex('0000 7fffffff'))), /count 2147483647 at offset 2 exceeds the 0 bytes left \(ApiVersions v0\)$/);
    refuses(() => ApiVersions.decode(3, new Reader(hex(`0000 ${COMPACT_COUNT_MAX_INT}`))), /count 2147483647 at offset 2 exceeds the 0 bytes left \(ApiVersions v3\)$/);
  });

  it('response header v1: a tagged field count of 2^32-1; a varint that never ends', () => {
    refuses(
      () => readResponseHeader(new Reader(hex(`00000001 ${UVARINT_MAX} 00`)), true),
      /^tagged field count 4294967295 at offset 4 exceeds the 1 bytes left \(response header v1\)$/,
    );
    refuses(() => readResponseHeader(new Reader(hex('00000001 ffffffffffffff')), true), /^Invalid uvarint at offset 4: more than 5 bytes \(response header v1\)$/);
    refuses(() => readResponseHeader(new Reader(hex('00000001 ffffffff')), true), /^Truncated input reading uvarint at offset 4: ran out of bytes \(response header v1\)$/);
  });

  /** A batch header (61 bytes) with `recordCount` and `records` after it; CRC left 0. */
  const batchWith = (recordCount: number, records: string, attributes = 0): Buffer => {
    const rec = hex(records);
    const b = Buffer.alloc(RECORD_BATCH_OVERHEAD + rec.length);
    b.writeInt32BE(b.length - 12, 8);
    b.writeInt8(2, 16);
    b.writeInt16BE(attributes, 21);
    b.writeInt32BE(recordCount, 57);
    rec.copy(b, RECORD_BATCH_OVERHEAD);
    return b;
  };

  it('record batch: record counts of 2^31-1 and -1; header count and key length of 2^31-1', () => {
    refuses(
      () => decodeRecordBatches(batchWith(0x7fffffff, '0c 00 00 00 01 01 00')),
      /^Record batch at offset 0: record count 2147483647 exceeds what its 7 bytes of records can hold \(record batch\)$/,
    );
    refuses(() => decodeRecordBatches(batchWith(-1, '')), /negative record count -1 \(record batch\)$/);
    // One record: length 13, attributes, deltas 0, null key, null value, header count 2^31-1,
    // 3 more bytes.
    refuses(
      () => decodeRecordBatches(batchWith(1, '1a 00 00 00 01 01 feffffff0f 00 00 00')),
      /^header count 2147483647 at offset 67 exceeds the 3 bytes left in the record \(record batch\)$/,
    );
    // One record: length 10, attributes, deltas 0, key length 2^31-1 (zig-zag), then 2 bytes.
    refuses(() => decodeRecordBatches(batchWith(1, '14 00 00 00 feffffff0f 0000')), /^Truncated input reading key: need 2147483647 byte\(s\) at offset 70, 2 left \(record batch\)$/);
  });
});

// ---- what the fuzzer found on the decoders before the fix, kept as fixed cases ----------------
// (seeds as fast-check printed them then; the inputs, not the seeds, are the regression: a seed
// replays only while the arbitraries above stay as they were.)

describe('fuzzer findings, fixed', () => {
  before(() => initCodecs());

  it('a truncated response threw a bare Error (no code, no retriable): every decoder', () => {
    // seed -447756022 (Metadata v12, (b)): the empty prefix of a valid response; before the fix
    // `Error: Truncated input reading int32 ...`, now a ProtocolDecodeError naming the decoder.
    refuses(() => Metadata.decode(12, new Reader(hex('0000'))), /^Truncated input reading int32: need 4 byte\(s\) at offset 0, 2 left \(Metadata v12\)$/);
    refuses(() => ApiVersions.decode(1, new Reader(hex('00'))), /\(ApiVersions v1\)$/);
    refuses(() => Produce.decode(9, new Reader(hex(''))), /\(Produce v9\)$/);
    refuses(() => readResponseHeader(new Reader(hex('000000')), false), /\(response header v0\)$/);
  });

  it('a record batch with codec bits 7 threw RangeError from the codec table', () => {
    // seed 682941316 ((c) random mutations: a flipped attributes byte).
    const input = hex(
      '00000000000000000000004a0000000002f4bcc2337cc70000000000000000000000000000000000000000ffffffffffffffff' +
        '0000000000000000000130000000010102002000000000000000000000000000000000',
    );
    refuses(() => decodeRecordBatches(input), /^Record batch at offset 0 has unknown compression codec 7 \(attributes bits 0\.\.2\) \(record batch\)$/);
  });

  it('records that do not decompress threw the codec\'s own error (CORRUPT_COMPRESSED_DATA), not a decode error', () => {
    // (c) hostile sweep: attributes overwritten with 0xffff..01 -> codec 1 (gzip) over plain records.
    const input = hex(
      '0000000000000000000000380000000002ffffffffff0100000000000000000000000000000000000000000000000000000000' +
        '000000000000000000010c000000010100',
    );
    assert.throws(
      () => decodeRecordBatches(input),
      (e: unknown) => {
        assert.ok(e instanceof ProtocolDecodeError);
        assert.match(e.message, /^Record batch at offset 0: its gzip records do not decompress: gzip: cannot decompress: .* \(record batch\)$/);
        assert.equal((e.cause as { code?: string }).code, 'CORRUPT_COMPRESSED_DATA', 'the codec error is the cause');
        assert.equal(e.offset, RECORD_BATCH_OVERHEAD);
        return true;
      },
    );
  });

  // Found by reading the decoders while writing the fuzzer: inputs the property accepts (they
  // decode to a value) but that are corrupt.
  it('a negative record count decoded as an empty batch', () => {
    const b = Buffer.alloc(RECORD_BATCH_OVERHEAD);
    b.writeInt32BE(b.length - 12, 8);
    b.writeInt8(2, 16);
    b.writeInt32BE(-5, 57);
    refuses(() => decodeRecordBatches(b), /negative record count -5/);
  });

  it('a uvarint whose fifth byte has bits above 2^32 was taken modulo 2^32', () => {
    // 7f in the fifth byte: 2^35 - 1, read as 0xffffffff before.
    refuses(() => new Reader(hex('ffffffff7f')).uvarint(), /^Invalid uvarint at offset 0: its value does not fit 32 bits$/);
    assert.equal(new Reader(hex('ffffffff0f')).uvarint(), 0xffff_ffff);
  });

  it('a known tagged field is read within its declared size', () => {
    // Produce v10 partition with current_leader (tag 0) declared 4 bytes but holding 8 + 1.
    // Before, its decoder read on past the field (into the topic's tags) and only a check
    // afterwards noticed; now the field's reader ends at the field's end.
    const body = hex(
      '02 02 74 02 00000000 0000 0000000000000000 ffffffffffffffff ffffffffffffffff 01 00' +
        ' 01 00 04 00000001 00000002 00' +
        ' 00 00000000 00',
    );
    refuses(() => Produce.decode(10, new Reader(body)), /^Truncated input reading int32: need 4 byte\(s\) at offset 43, 0 left \(Produce v10\)$/);
  });
});

describe('what a caller of the producer sees', () => {
  it('a malformed response over a connection: KafkaJSNonRetriableError INVALID_RESPONSE naming the broker, the ProtocolDecodeError as cause', async () => {
    // A broker that answers every request with a Metadata v12 body whose topics count is 2^31-1.
    const server = net.createServer((socket) => {
      socket.on('error', () => undefined);
      // Each request arrives as one chunk here: it is small and on loopback.
      socket.on('data', (frame) => {
        const correlationId = frame.readInt32BE(8);
        const body = Buffer.concat([Buffer.alloc(4), hex(`00 00000000 01 00 00000001 ${COMPACT_COUNT_MAX_INT} 000000`)]);
        body.writeInt32BE(correlationId, 0);
        const size = Buffer.alloc(4);
        size.writeInt32BE(body.length);
        socket.write(Buffer.concat([size, body]));
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    const conn = new BrokerConnection({
      host: '127.0.0.1',
      port,
      clientId: 'fuzz',
      maxInFlight: 1,
      requestTimeoutMs: 30_000,
      connectTimeoutMs: 30_000,
      reconnectBackoffMs: 50,
      reconnectBackoffMaxMs: 50,
    });
    try {
      await conn.connect();
      const err: unknown = await conn
        .request(3, 12, true, Metadata.encode(12, { topics: ['t'], allowAutoTopicCreation: false }), Metadata.decode)
        .then(
          () => assert.fail('the request must reject'),
          (e: unknown) => e,
        );
      assert.ok(err instanceof KafkaJSNonRetriableError, String(err));
      assert.equal(err.retriable, false);
      assert.equal(err.code, 'INVALID_RESPONSE');
      assert.match(err.message, /^Failed to decode Metadata v12 response from 127\.0\.0\.1:\d+: topics array count 2147483647 at offset 15 exceeds the 3 bytes left \(Metadata v12\)$/);
      // (offsets count from the frame's start: correlation id and header tag buffer first)
      assert.ok(err.cause instanceof ProtocolDecodeError);
      assert.equal(err.cause.offset, 15);
    } finally {
      await conn.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
