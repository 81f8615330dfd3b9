import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CodecId } from '../../../ts/backend/types.js';
import { Produce, type ProduceRequest, type ProduceResponse } from '../../../ts/protocol/produce.js';
import { Reader } from '../../../ts/protocol/reader.js';
import { encodeRecordBatch } from '../../../ts/protocol/record-batch.js';
import { Writer } from '../../../ts/protocol/writer.js';
import { KAFKAJS_BATCH_HEX, KAFKAJS_PRODUCE_V3_BODY_HEX, KAFKAJS_TOPIC } from '../../vectors/kafkajs-produce-v3.js';

const str = (s: string): string => Buffer.from(s).toString('hex');
const batchOf = (value: string, seq: number): Buffer =>
  encodeRecordBatch([{ key: null, value: Buffer.from(value), headers: null, timestamp: 1_700_000_000_000 }], {
    producerId: 5n,
    producerEpoch: 0,
    baseSequence: seq,
    transactional: false,
    codec: CodecId.None,
  });

/** Test-side request decoder, written from the grammar: the other half of the encode round trip. */
function decodeRequest(version: number, buf: Buffer): ProduceRequest {
  const r = new Reader(buf);
  const flexible = version >= 9;
  const transactionalId = flexible ? r.compactNullableString() : r.nullableString();
  const acks = r.int16();
  const timeoutMs = r.int32();
  const arr = <T>(each: (x: Reader) => T): T[] => (flexible ? r.compactArray(each) : r.array(each));
  const topicData = arr(() => {
    const name = flexible ? r.compactString() : r.string();
    const partitionData = arr(() => {
      const index = r.int32();
      const records = Buffer.from((flexible ? r.compactNullableBytes() : r.nullableBytes()) ?? Buffer.alloc(0));
      if (flexible) r.skipTaggedFields();
      return { index, records };
    });
    if (flexible) r.skipTaggedFields();
    return { name, partitionData };
  });
  if (flexible) r.skipTaggedFields();
  assert.equal(r.remaining, 0);
  return { transactionalId, acks, timeoutMs, topicData };
}

/** Test-side response encoder, written from the grammar. */
function encodeResponse(version: number, res: ProduceResponse): Buffer {
  const w = new Writer();
  const flexible = version >= 9;
  const s = (v: string | null): void => void (flexible ? w.compactString(v) : w.string(v));
  const arr = <T>(items: T[], each: (item: T) => void): void => {
    if (flexible) w.uvarint(items.length + 1);
    else w.int32(items.length);
    items.forEach(each);
  };
  arr(res.responses, (t) => {
    s(t.name);
    arr(t.partitionResponses, (p) => {
      w.int32(p.index).int16(p.errorCode).int64(p.baseOffset).int64(p.logAppendTimeMs);
      if (version >= 5) w.int64(p.logStartOffset);
      if (version >= 8) {
        arr(p.recordErrors, (e) => {
          w.int32(e.batchIndex);
          s(e.batchIndexErrorMessage);
          if (flexible) w.emptyTaggedFields();
        });
        s(p.errorMessage);
      }
      if (flexible) {
        if (version >= 10 && p.currentLeader !== null) {
          const tag = new Writer().int32(p.currentLeader.leaderId).int32(p.currentLeader.leaderEpoch).emptyTaggedFields().finish();
          w.uvarint(1).uvarint(0).uvarint(tag.length).raw(tag);
        } else {
          w.emptyTaggedFields();
        }
      }
    });
    if (flexible) w.emptyTaggedFields();
  });
  w.int32(res.throttleTimeMs);
  if (flexible) {
    if (version >= 10 && res.nodeEndpoints.length > 0) {
      const tag = new Writer()
        .compactArray(res.nodeEndpoints, (x, e) => x.int32(e.nodeId).compactString(e.host).int32(e.port).compactString(e.rack).emptyTaggedFields())
        .finish();
      w.uvarint(1).uvarint(0).uvarint(tag.length).raw(tag);
    } else {
      w.emptyTaggedFields();
    }
  }
  return w.finish();
}

describe('Produce request', () => {
  it('v3 reproduces the KafkaJS vector byte for byte', () => {
    const batch = Buffer.from(KAFKAJS_BATCH_HEX, 'hex');
    const chunks = Produce.encode(3, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 30000,
      topicData: [{ name: KAFKAJS_TOPIC, partitionData: [{ index: 0, records: batch }] }],
    });
    assert.equal(Buffer.concat(chunks).toString('hex'), KAFKAJS_PRODUCE_V3_BODY_HEX);
    assert.equal(chunks.length, 1, 'a small request comes back as one Buffer');
  });

  it('v9 (flexible) golden bytes', () => {
    const batch = Buffer.from('00'.repeat(99), 'hex'); // content does not matter to the framing
    const chunks = Produce.encode(9, {
      transactionalId: 'tx',
      acks: 1,
      timeoutMs: 5000,
      topicData: [{ name: 't1', partitionData: [{ index: 2, records: batch }] }],
    });
    const expected =
      '03' + str('tx') + // transactional_id (compact, length 2 + 1)
      '0001' + // acks 1
      '00001388' + // timeout_ms 5000
      '02' + // 1 topic
      '03' + str('t1') + // name
      '02' + // 1 partition
      '00000002' + // index 2
      '64' + // records: 99 bytes + 1
      '00'.repeat(99) + //   the batch
      '00' + // partition tags
      '00' + // topic tags
      '00'; // request tags
    assert.equal(Buffer.concat(chunks).toString('hex'), expected);
    assert.equal(chunks.length, 1, 'a small request comes back as one Buffer');
  });

  it('interleaves framing and caller buffers without copying, several batches per partition', () => {
    // Batches adding up to more than 2 KiB are referenced (smaller requests are one copy).
    const a = batchOf('a'.repeat(1500), 0);
    const b = batchOf('b', 1);
    const c = batchOf('c'.repeat(700), 0);
    for (const version of [3, 8, 9, 11]) {
      const req: ProduceRequest = {
        transactionalId: null,
        acks: -1,
        timeoutMs: 30000,
        topicData: [
          { name: 'one', partitionData: [{ index: 0, records: [a, b] }, { index: 1, records: c }] },
          { name: 'two', partitionData: [{ index: 7, records: [c] }] },
        ],
      };
      const chunks = Produce.encode(version, req);
      const batchChunks = chunks.filter((x) => x === a || x === b || x === c);
      assert.deepEqual(batchChunks, [a, b, c, c], `v${version}: every batch appears once, by reference`);
      const got = decodeRequest(version, Buffer.concat(chunks));
      assert.deepEqual(
        got.topicData.map((t) => [t.name, t.partitionData.map((p) => [p.index, (p.records as Buffer).toString('hex')])]),
        [
          ['one', [[0, Buffer.concat([a, b]).toString('hex')], [1, c.toString('hex')]]],
          ['two', [[7, c.toString('hex')]]],
        ],
      );
    }
  });

  it('round-trips every version 3..11', () => {
    const batch = batchOf('hello', 3);
    for (let v = 3; v <= 11; v++) {
      const req: ProduceRequest = {
        transactionalId: v % 2 === 0 ? 'my-tx' : null,
        acks: v % 3 === 0 ? 0 : -1,
        timeoutMs: 1000 * v,
        topicData: [{ name: `topic-${v}`, partitionData: [{ index: v, records: batch }] }],
      };
      const got = decodeRequest(v, Buffer.concat(Produce.encode(v, req)));
      assert.deepEqual(got, { ...req, topicData: [{ name: `topic-${v}`, partitionData: [{ index: v, records: batch }] }] }, `v${v}`);
    }
  });
});

describe('Produce response', () => {
  it('v11 golden bytes with current_leader and node_endpoints tagged fields', () => {
    const body =
      '02' + // 1 topic
      '03' + str('t1') +
      '02' + // 1 partition
      '00000000' + // index 0
      '0006' + // NOT_LEADER_OR_FOLLOWER
      'ffffffffffffffff' + // base_offset -1
      'ffffffffffffffff' + // log_append_time_ms -1
      'ffffffffffffffff' + // log_start_offset -1
      '01' + // record_errors: []
      '00' + // error_message: null
      '01' + '00' + '09' + '00000002' + '00000007' + '00' + // tags: current_leader {leader 2, epoch 7}
      '00' + // topic tags
      '00000000' + // throttle_time_ms
      '01' + '00' + '15' + // tags: node_endpoints, 21 bytes
      '02' + '00000002' + '0a' + str('localhost') + '00002384' + '00' + '00'; // [{2, localhost, 9092, null}]
    const r = new Reader(Buffer.from(body, 'hex'));
    const res = Produce.decode(11, r);
    assert.equal(r.remaining, 0);
    assert.deepEqual(res, {
      responses: [
        {
          name: 't1',
          partitionResponses: [
            {
              index: 0,
              errorCode: 6,
              baseOffset: -1n,
              logAppendTimeMs: -1n,
              logStartOffset: -1n,
              recordErrors: [],
              errorMessage: null,
              currentLeader: { leaderId: 2, leaderEpoch: 7 },
            },
          ],
        },
      ],
      throttleTimeMs: 0,
      nodeEndpoints: [{ nodeId: 2, host: 'localhost', port: 9092, rack: null }],
    });
  });

  it('v8 golden bytes with record errors', () => {
    const body =
      '00000001' + '0002' + str('t1') + // 1 topic
      '00000001' + // 1 partition
      '00000001' + '0057' + // index 1, INVALID_RECORD
      'ffffffffffffffff' + 'ffffffffffffffff' + '0000000000000000' + // base offset, append time, log start
      '00000001' + '00000000' + '0003' + str('bad') + // record_errors: [{0, 'bad'}]
      '0004' + str('oops') + // error_message
      '00000064'; // throttle 100
    const res = Produce.decode(8, new Reader(Buffer.from(body, 'hex')));
    assert.deepEqual(res.responses[0].partitionResponses[0], {
      index: 1,
      errorCode: 87,
      baseOffset: -1n,
      logAppendTimeMs: -1n,
      logStartOffset: 0n,
      recordErrors: [{ batchIndex: 0, batchIndexErrorMessage: 'bad' }],
      errorMessage: 'oops',
      currentLeader: null,
    });
    assert.equal(res.throttleTimeMs, 100);
  });

  it('round-trips every version 3..11 (fields a version lacks read as defaults)', () => {
    const full: ProduceResponse = {
      responses: [
        {
          name: 'orders',
          partitionResponses: [
            { index: 0, errorCode: 0, baseOffset: 1234567890123n, logAppendTimeMs: -1n, logStartOffset: 17n, recordErrors: [], errorMessage: null, currentLeader: null },
            {
              index: 1, errorCode: 6, baseOffset: -1n, logAppendTimeMs: -1n, logStartOffset: -1n,
              recordErrors: [{ batchIndex: 2, batchIndexErrorMessage: null }], errorMessage: 'moved', currentLeader: { leaderId: 3, leaderEpoch: 9 },
            },
          ],
        },
        { name: 'audit', partitionResponses: [] },
      ],
      throttleTimeMs: 5,
      nodeEndpoints: [{ nodeId: 3, host: 'b3', port: 9093, rack: 'r' }],
    };
    for (let v = 3; v <= 11; v++) {
      const r = new Reader(encodeResponse(v, full));
      const got = Produce.decode(v, r);
      assert.equal(r.remaining, 0, `v${v} consumed everything`);
      const want: ProduceResponse = {
        responses: full.responses.map((t) => ({
          ...t,
          partitionResponses: t.partitionResponses.map((p) => ({
            ...p,
            logStartOffset: v >= 5 ? p.logStartOffset : -1n,
            recordErrors: v >= 8 ? p.recordErrors : [],
            errorMessage: v >= 8 ? p.errorMessage : null,
            currentLeader: v >= 10 ? p.currentLeader : null,
          })),
        })),
        throttleTimeMs: 5,
        nodeEndpoints: v >= 10 ? full.nodeEndpoints : [],
      };
      assert.deepEqual(got, want, `v${v}`);
    }
  });

  it('decodes each topic name from its own bytes when names repeat or differ by a byte', () => {
    // The decoder keeps the last name it read to skip decoding it again: a name of the same
    // length with other bytes, a multi-byte UTF-8 name and the first name again must each come
    // back as written, on both string encodings.
    const names = ['orders', 'ordert', 'orders', 'órders', 'orders', 'audit1', 'orders'];
    for (const v of [8, 11]) {
      for (const name of names) {
        const res: ProduceResponse = {
          responses: [{ name, partitionResponses: [{ index: 0, errorCode: 0, baseOffset: 5n, logAppendTimeMs: 0n, logStartOffset: 0n, recordErrors: [], errorMessage: null, currentLeader: null }] }],
          throttleTimeMs: 0,
          nodeEndpoints: [],
        };
        const r = new Reader(encodeResponse(v, res));
        assert.equal(Produce.decode(v, r).responses[0]!.name, name, `v${v} ${name}`);
        assert.equal(r.remaining, 0);
      }
    }
  });

  it('skips unknown tagged fields', () => {
    const body =
      '01' + // no topics
      '00000000' + // throttle
      '02' + '05' + '02' + 'abcd' + '07' + '00'; // tags: tag 5 (2 bytes), tag 7 (0 bytes)
    const res = Produce.decode(11, new Reader(Buffer.from(body, 'hex')));
    assert.deepEqual(res, { responses: [], throttleTimeMs: 0, nodeEndpoints: [] });
  });
});
