/**
 * The fake broker's half of the protocol (test/helpers/fake-protocol.ts) against the client's
 * half (ts/protocol/): every response the fake encodes must decode with the client's decoder
 * to what was meant, at every version, and every request the client encodes must decode on
 * the fake's side. A mistake in either half breaks one of these round trips.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CodecId } from '../../../ts/backend/types.js';
import { ApiVersions } from '../../../ts/protocol/api-versions.js';
import { ErrorCode } from '../../../ts/protocol/error-codes.js';
import { Metadata } from '../../../ts/protocol/metadata.js';
import { Produce } from '../../../ts/protocol/produce.js';
import { Reader } from '../../../ts/protocol/reader.js';
import { decodeRecordBatches, encodeRecordBatch } from '../../../ts/protocol/record-batch.js';
import {
  decodeApiVersionsRequest,
  decodeInitProducerIdRequest,
  decodeInitProducerIdResponse,
  decodeMetadataRequest,
  decodeProduceRequest,
  encodeApiVersionsResponse,
  encodeInitProducerIdRequest,
  encodeInitProducerIdResponse,
  encodeMetadataResponse,
  encodeProduceResponse,
} from '../../helpers/fake-protocol.js';

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
/** Decodes all of `buf` with `decode`, checking nothing is left over. */
function all<T>(buf: Buffer, decode: (r: Reader) => T): T {
  const r = new Reader(buf);
  const out = decode(r);
  assert.equal(r.remaining, 0, 'bytes left after decoding');
  return out;
}

describe('ApiVersions', () => {
  const apiKeys = [
    { apiKey: 0, minVersion: 3, maxVersion: 11 },
    { apiKey: 18, minVersion: 0, maxVersion: 3 },
  ];
  for (const v of range(0, 3)) {
    it(`v${v}: request decodes, response round-trips`, () => {
      const req = ApiVersions.encode(v, { clientSoftwareName: 'kafka-turbo', clientSoftwareVersion: '0.1.0' });
      const body = all(req, (r) => decodeApiVersionsRequest(v, r));
      assert.deepEqual(body, v >= 3 ? { clientSoftwareName: 'kafka-turbo', clientSoftwareVersion: '0.1.0' } : { clientSoftwareName: null, clientSoftwareVersion: null });
      const res = all(encodeApiVersionsResponse(v, { errorCode: 0, apiKeys, throttleTimeMs: 7 }), (r) => ApiVersions.decode(v, r));
      assert.deepEqual(res, { errorCode: 0, apiKeys, throttleTimeMs: v >= 1 ? 7 : 0 });
    });
  }
  it('UNSUPPORTED_VERSION is written in the v0 layout, which the client reads at v3', () => {
    const buf = encodeApiVersionsResponse(3, { errorCode: ErrorCode.UNSUPPORTED_VERSION, apiKeys: [apiKeys[1]], throttleTimeMs: 0 });
    assert.deepEqual(buf, encodeApiVersionsResponse(0, { errorCode: ErrorCode.UNSUPPORTED_VERSION, apiKeys: [apiKeys[1]], throttleTimeMs: 0 }));
    assert.deepEqual(all(buf, (r) => ApiVersions.decode(3, r)).apiKeys, [apiKeys[1]]);
  });
});

describe('Metadata', () => {
  const res = {
    throttleTimeMs: 3,
    brokers: [
      { nodeId: 0, host: '127.0.0.1', port: 9092, rack: null },
      { nodeId: 1, host: '127.0.0.1', port: 9093, rack: 'r1' },
    ],
    clusterId: 'c',
    controllerId: 1,
    topics: [
      {
        errorCode: 0,
        name: 't',
        topicId: Buffer.alloc(16, 7),
        isInternal: false,
        partitions: [
          { errorCode: 0, partitionIndex: 0, leaderId: 1, leaderEpoch: 4, replicaNodes: [1, 0], isrNodes: [1], offlineReplicas: [0] },
        ],
      },
      { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name: 'nope', topicId: Buffer.alloc(16), isInternal: false, partitions: [] },
    ],
  };
  for (const v of range(1, 12)) {
    it(`v${v}: request decodes, response round-trips`, () => {
      const req = Metadata.encode(v, { topics: ['t', 'nope'], allowAutoTopicCreation: false });
      assert.deepEqual(all(req, (r) => decodeMetadataRequest(v, r)), { topics: ['t', 'nope'], allowAutoTopicCreation: v < 4 });
      const all0 = Metadata.encode(v, { topics: null, allowAutoTopicCreation: true });
      assert.equal(all(all0, (r) => decodeMetadataRequest(v, r)).topics, null);
      const got = all(encodeMetadataResponse(v, res), (r) => Metadata.decode(v, r));
      assert.equal(got.throttleTimeMs, v >= 3 ? 3 : 0);
      assert.deepEqual(got.brokers, res.brokers);
      assert.equal(got.clusterId, v >= 2 ? 'c' : null);
      assert.equal(got.controllerId, 1);
      assert.deepEqual(
        got.topics.map((t) => [t.errorCode, t.name, t.topicId, t.partitions]),
        res.topics.map((t) => [
          t.errorCode,
          t.name,
          v >= 10 ? t.topicId : null,
          t.partitions.map((p) => ({ ...p, leaderEpoch: v >= 7 ? p.leaderEpoch : -1, offlineReplicas: v >= 5 ? p.offlineReplicas : [] })),
        ]),
      );
    });
  }
});

describe('Produce', () => {
  const batch = encodeRecordBatch([{ key: Buffer.from('k'), value: Buffer.from('v'), headers: null, timestamp: 1_700_000_000_000 }], {
    producerId: 1000n,
    producerEpoch: 2,
    baseSequence: 9,
    transactional: false,
    codec: CodecId.None,
  });
  for (const v of range(3, 11)) {
    it(`v${v}: request decodes, response round-trips`, () => {
      const chunks = Produce.encode(v, {
        transactionalId: null,
        acks: -1,
        timeoutMs: 1234,
        topicData: [{ name: 't', partitionData: [{ index: 1, records: batch }] }],
      });
      const req = all(Buffer.concat(chunks), (r) => decodeProduceRequest(v, r));
      assert.equal(req.acks, -1);
      assert.equal(req.timeoutMs, 1234);
      assert.equal(req.topics[0].name, 't');
      assert.equal(req.topics[0].partitions[0].index, 1);
      const [b] = decodeRecordBatches(req.topics[0].partitions[0].records!);
      assert.deepEqual([b.producerId, b.producerEpoch, b.baseSequence, b.records[0].value?.toString()], [1000n, 2, 9, 'v']);

      const partition = {
        index: 1,
        errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
        baseOffset: 42,
        logAppendTimeMs: -1,
        logStartOffset: 5,
        recordErrors: [{ batchIndex: 0, message: 'bad' }],
        errorMessage: 'moved',
        currentLeader: { leaderId: 2, leaderEpoch: 8 },
      };
      const nodeEndpoints = [{ nodeId: 2, host: '127.0.0.1', port: 9094, rack: null }];
      const res = all(encodeProduceResponse(v, { topics: [{ name: 't', partitions: [partition] }], throttleTimeMs: 11, nodeEndpoints }), (r) =>
        Produce.decode(v, r),
      );
      assert.equal(res.throttleTimeMs, 11);
      const p = res.responses[0].partitionResponses[0];
      assert.equal(res.responses[0].name, 't');
      assert.deepEqual(
        [p.index, p.errorCode, p.baseOffset, p.logAppendTimeMs, p.logStartOffset],
        [1, ErrorCode.NOT_LEADER_OR_FOLLOWER, 42n, -1n, v >= 5 ? 5n : -1n],
      );
      assert.deepEqual(p.recordErrors, v >= 8 ? [{ batchIndex: 0, batchIndexErrorMessage: 'bad' }] : []);
      assert.equal(p.errorMessage, v >= 8 ? 'moved' : null);
      assert.deepEqual(p.currentLeader, v >= 10 ? { leaderId: 2, leaderEpoch: 8 } : null);
      assert.deepEqual(res.nodeEndpoints, v >= 10 ? nodeEndpoints : []);
    });
  }
});

describe('InitProducerId', () => {
  for (const v of range(0, 5)) {
    it(`v${v}: request and response round-trip`, () => {
      const req = { transactionalId: v % 2 ? 'tx' : null, transactionTimeoutMs: 60000, producerId: v >= 3 ? 1000 : -1, producerEpoch: v >= 3 ? 3 : -1 };
      assert.deepEqual(all(encodeInitProducerIdRequest(v, req), (r) => decodeInitProducerIdRequest(v, r)), req);
      const res = { throttleTimeMs: 1, errorCode: 0, producerId: 1001, producerEpoch: 4 };
      assert.deepEqual(all(encodeInitProducerIdResponse(v, res), (r) => decodeInitProducerIdResponse(v, r)), res);
    });
  }
  it('v2 is flexible: one tag byte more than v1', () => {
    const res = { throttleTimeMs: 0, errorCode: 0, producerId: 1, producerEpoch: 0 };
    assert.equal(encodeInitProducerIdResponse(2, res).length, encodeInitProducerIdResponse(1, res).length + 1);
  });
});
