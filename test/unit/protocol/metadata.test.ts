import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Metadata, type MetadataRequest, type MetadataResponse } from '../../../ts/protocol/metadata.js';
import { Reader } from '../../../ts/protocol/reader.js';
import { Writer } from '../../../ts/protocol/writer.js';

const hex = (b: Buffer | Buffer[]): string => (Buffer.isBuffer(b) ? b : Buffer.concat(b)).toString('hex');
const str = (s: string): string => Buffer.from(s).toString('hex');
const ZERO_UUID = '00'.repeat(16);

/** Test-side request decoder, written from the grammar: the other half of the encode round trip. */
function decodeRequest(version: number, buf: Buffer): MetadataRequest & { includeOps: boolean[] } {
  const r = new Reader(buf);
  const flexible = version >= 9;
  const topics = flexible
    ? r.compactNullableArray((x) => {
        if (version >= 10) assert.equal(x.uuid().toString('hex'), ZERO_UUID);
        const name = version >= 10 ? x.compactNullableString() : x.compactString();
        x.skipTaggedFields();
        return name as string;
      })
    : r.nullableArray((x) => x.string());
  const allowAutoTopicCreation = version >= 4 ? r.boolean() : true;
  const includeOps: boolean[] = [];
  if (version >= 8 && version <= 10) includeOps.push(r.boolean());
  if (version >= 8) includeOps.push(r.boolean());
  if (flexible) r.skipTaggedFields();
  assert.equal(r.remaining, 0);
  return { topics, allowAutoTopicCreation, includeOps };
}

/** Test-side response encoder, written from the grammar. */
function encodeResponse(version: number, res: MetadataResponse): Buffer {
  const w = new Writer();
  const flexible = version >= 9;
  const s = (v: string | null): void => void (flexible ? w.compactString(v) : w.string(v));
  const arr = <T>(items: T[], each: (item: T) => void): void => {
    if (flexible) w.uvarint(items.length + 1);
    else w.int32(items.length);
    items.forEach(each);
  };
  const tags = (): void => void (flexible && w.emptyTaggedFields());
  if (version >= 3) w.int32(res.throttleTimeMs);
  arr(res.brokers, (b) => {
    w.int32(b.nodeId);
    s(b.host);
    w.int32(b.port);
    s(b.rack);
    tags();
  });
  if (version >= 2) s(res.clusterId);
  w.int32(res.controllerId);
  arr(res.topics, (t) => {
    w.int16(t.errorCode);
    s(t.name);
    if (version >= 10) w.uuid(t.topicId ?? Buffer.alloc(16));
    w.boolean(t.isInternal);
    arr(t.partitions, (p) => {
      w.int16(p.errorCode).int32(p.partitionIndex).int32(p.leaderId);
      if (version >= 7) w.int32(p.leaderEpoch);
      arr(p.replicaNodes, (n) => w.int32(n));
      arr(p.isrNodes, (n) => w.int32(n));
      if (version >= 5) arr(p.offlineReplicas, (n) => w.int32(n));
      tags();
    });
    if (version >= 8) w.int32(-2147483648);
    tags();
  });
  if (version >= 8 && version <= 10) w.int32(-2147483648);
  tags();
  return w.finish();
}

describe('Metadata request', () => {
  it('golden bytes, v1 / v4 / v9 / v10 / v12', () => {
    const req = { topics: ['t1'], allowAutoTopicCreation: true };
    assert.equal(hex(Metadata.encode(1, req)), '00000001' + '0002' + str('t1'));
    assert.equal(hex(Metadata.encode(4, req)), '00000001' + '0002' + str('t1') + '01');
    assert.equal(
      hex(Metadata.encode(8, req)),
      '00000001' + '0002' + str('t1') + '01' + '00' + '00', // + include cluster / topic authorized operations
    );
    assert.equal(
      hex(Metadata.encode(9, req)),
      '02' + '03' + str('t1') + '00' + // topics: 1, name, no tags
        '01' + '00' + '00' + // allow auto creation, include cluster ops, include topic ops
        '00', // no tags
    );
    assert.equal(hex(Metadata.encode(10, req)), '02' + ZERO_UUID + '03' + str('t1') + '00' + '01' + '00' + '00' + '00');
    assert.equal(hex(Metadata.encode(12, req)), '02' + ZERO_UUID + '03' + str('t1') + '00' + '01' + '00' + '00');
  });

  it('null topics means all topics; [] means none', () => {
    assert.equal(hex(Metadata.encode(1, { topics: null, allowAutoTopicCreation: false })), 'ffffffff');
    assert.equal(hex(Metadata.encode(4, { topics: [], allowAutoTopicCreation: false })), '00000000' + '00');
    assert.equal(hex(Metadata.encode(12, { topics: null, allowAutoTopicCreation: false })), '00' + '00' + '00' + '00');
  });

  it('round-trips every version 1..12', () => {
    for (let v = 1; v <= 12; v++) {
      for (const req of [
        { topics: ['a', 'topic-é', 'x'.repeat(200)], allowAutoTopicCreation: v >= 4 ? false : true },
        { topics: null, allowAutoTopicCreation: true },
      ]) {
        const got = decodeRequest(v, Metadata.encode(v, req) as Buffer);
        assert.deepEqual(got.topics, req.topics, `v${v}`);
        assert.equal(got.allowAutoTopicCreation, req.allowAutoTopicCreation, `v${v}`);
        assert.ok(got.includeOps.every((x) => x === false));
      }
    }
  });
});

describe('Metadata response', () => {
  it('v12 golden bytes', () => {
    const body =
      '00000000' + // throttle_time_ms
      '02' + // 1 broker
      '00000001' + '0a' + str('localhost') + '00002384' + '00' + '00' + // node 1, localhost:9092, rack null, no tags
      '04' + str('abc') + // cluster_id
      '00000001' + // controller_id
      '02' + // 1 topic
      '0000' + '03' + str('t1') + // error 0, name
      '0102030405060708090a0b0c0d0e0f10' + // topic_id
      '00' + // is_internal false
      '02' + // 1 partition
      '0000' + '00000000' + '00000001' + '00000005' + // error, index 0, leader 1, leader epoch 5
      '02' + '00000001' + // replicas [1]
      '02' + '00000001' + // isr [1]
      '01' + // offline replicas []
      '00' + // partition tags
      '80000000' + // topic_authorized_operations (not requested)
      '00' + // topic tags
      '00'; // response tags
    const r = new Reader(Buffer.from(body, 'hex'));
    const res = Metadata.decode(12, r);
    assert.equal(r.remaining, 0);
    assert.deepEqual(res, {
      throttleTimeMs: 0,
      brokers: [{ nodeId: 1, host: 'localhost', port: 9092, rack: null }],
      clusterId: 'abc',
      controllerId: 1,
      topics: [
        {
          errorCode: 0,
          name: 't1',
          topicId: Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex'),
          isInternal: false,
          partitions: [
            { errorCode: 0, partitionIndex: 0, leaderId: 1, leaderEpoch: 5, replicaNodes: [1], isrNodes: [1], offlineReplicas: [] },
          ],
        },
      ],
    });
  });

  it('v1 golden bytes', () => {
    const body =
      '00000001' + // 1 broker
      '00000002' + '0001' + str('h') + '0000232a' + '0002' + str('r1') + // node 2, h:9002, rack r1
      '00000002' + // controller_id
      '00000001' + // 1 topic
      '0003' + '0002' + str('t1') + '00' + // UNKNOWN_TOPIC_OR_PARTITION, name, not internal
      '00000000'; // no partitions
    const res = Metadata.decode(1, new Reader(Buffer.from(body, 'hex')));
    assert.deepEqual(res, {
      throttleTimeMs: 0,
      brokers: [{ nodeId: 2, host: 'h', port: 9002, rack: 'r1' }],
      clusterId: null,
      controllerId: 2,
      topics: [{ errorCode: 3, name: 't1', topicId: null, isInternal: false, partitions: [] }],
    });
  });

  it('round-trips every version 1..12 (fields a version lacks read as defaults)', () => {
    const full: MetadataResponse = {
      throttleTimeMs: 7,
      brokers: [
        { nodeId: 1, host: 'b1', port: 9092, rack: 'rack-a' },
        { nodeId: 2, host: 'b2.example', port: 19092, rack: null },
      ],
      clusterId: 'cluster-1',
      controllerId: 2,
      topics: [
        {
          errorCode: 0,
          name: 'orders',
          topicId: Buffer.alloc(16, 9),
          isInternal: false,
          partitions: Array.from({ length: 5 }, (_, i) => ({
            errorCode: i === 3 ? 5 : 0,
            partitionIndex: i,
            leaderId: i === 3 ? -1 : 1 + (i % 2),
            leaderEpoch: 10 + i,
            replicaNodes: [1, 2],
            isrNodes: i === 4 ? [1] : [1, 2],
            offlineReplicas: i === 4 ? [2] : [],
          })),
        },
        { errorCode: 0, name: '__consumer_offsets', topicId: Buffer.alloc(16, 1), isInternal: true, partitions: [] },
      ],
    };
    for (let v = 1; v <= 12; v++) {
      const r = new Reader(encodeResponse(v, full));
      const got = Metadata.decode(v, r);
      assert.equal(r.remaining, 0, `v${v} consumed everything`);
      const want: MetadataResponse = {
        ...full,
        throttleTimeMs: v >= 3 ? 7 : 0,
        clusterId: v >= 2 ? 'cluster-1' : null,
        topics: full.topics.map((t) => ({
          ...t,
          topicId: v >= 10 ? t.topicId : null,
          partitions: t.partitions.map((p) => ({
            ...p,
            leaderEpoch: v >= 7 ? p.leaderEpoch : -1,
            offlineReplicas: v >= 5 ? p.offlineReplicas : [],
          })),
        })),
      };
      assert.deepEqual(got, want, `v${v}`);
    }
  });

  it('v12 accepts a null topic name', () => {
    const res: MetadataResponse = {
      throttleTimeMs: 0, brokers: [], clusterId: null, controllerId: -1,
      topics: [{ errorCode: 100, name: null, topicId: Buffer.alloc(16, 3), isInternal: false, partitions: [] }],
    };
    assert.equal(Metadata.decode(12, new Reader(encodeResponse(12, res))).topics[0].name, null);
  });

  it('truncated responses fail clearly', () => {
    const buf = encodeResponse(12, { throttleTimeMs: 0, brokers: [{ nodeId: 1, host: 'h', port: 1, rack: null }], clusterId: null, controllerId: 1, topics: [] });
    assert.throws(() => Metadata.decode(12, new Reader(buf.subarray(0, buf.length - 3))), /Truncated input/);
  });
});
