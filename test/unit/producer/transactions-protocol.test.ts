/**
 * The transaction APIs' codecs (ts/protocol/{find-coordinator,add-partitions-to-txn,
 * add-offsets-to-txn,txn-offset-commit,end-txn}.ts) at every version they speak: each request
 * decoded by the broker's half (test/helpers/fake-protocol.ts, written separately from the
 * grammar) and each response encoded there and decoded here, plus golden bytes for one
 * classic and one flexible version, so that a mistake shared by both halves still shows.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AddOffsetsToTxn } from '../../../ts/protocol/add-offsets-to-txn.js';
import { AddPartitionsToTxn } from '../../../ts/protocol/add-partitions-to-txn.js';
import { ApiVersions } from '../../../ts/protocol/api-versions.js';
import { EndTxn } from '../../../ts/protocol/end-txn.js';
import { FindCoordinator } from '../../../ts/protocol/find-coordinator.js';
import { Reader } from '../../../ts/protocol/reader.js';
import { TxnOffsetCommit } from '../../../ts/protocol/txn-offset-commit.js';
import {
  decodeAddOffsetsToTxnRequest,
  decodeAddPartitionsToTxnRequest,
  decodeEndTxnRequest,
  decodeFindCoordinatorRequest,
  decodeTxnOffsetCommitRequest,
  encodeAddPartitionsToTxnResponse,
  encodeApiVersionsResponse,
  encodeEndTxnResponse,
  encodeErrorOnlyTxnResponse,
  encodeFindCoordinatorResponse,
  encodeTxnOffsetCommitResponse,
} from '../../helpers/fake-protocol.js';

const whole = <T>(buf: Buffer, decode: (r: Reader) => T): T => {
  const r = new Reader(buf);
  const out = decode(r);
  assert.equal(r.remaining, 0, 'every byte read');
  return out;
};

const versions = (d: { minVersion: number; maxVersion: number }) =>
  Array.from({ length: d.maxVersion - d.minVersion + 1 }, (_, i) => d.minVersion + i);

describe('transaction API codecs', () => {
  it('FindCoordinator v1-v5: key and key type out; the coordinator back (v4+ as a one-entry list)', () => {
    for (const v of versions(FindCoordinator)) {
      const req = whole(FindCoordinator.encode(v, { key: 'txn-é', keyType: 1 }), (r) => decodeFindCoordinatorRequest(v, r));
      assert.deepEqual(req, { keyType: 1, keys: ['txn-é'] }, `v${v}`);
      const body = encodeFindCoordinatorResponse(v, {
        throttleTimeMs: 3,
        coordinators: [{ key: 'txn-é', nodeId: 2, host: '127.0.0.1', port: 9093, errorCode: 0, errorMessage: null }],
      });
      assert.deepEqual(whole(body, (r) => FindCoordinator.decode(v, r)), {
        throttleTimeMs: 3, errorCode: 0, errorMessage: null, nodeId: 2, host: '127.0.0.1', port: 9093,
      }, `v${v}`);
    }
    // v1: key STRING, key_type INT8.
    assert.deepEqual([...FindCoordinator.encode(1, { key: 'ab', keyType: 1 })], [0, 2, 0x61, 0x62, 1]);
    // v4: key_type, compact array of one compact string, empty tag buffer.
    assert.deepEqual([...FindCoordinator.encode(4, { key: 'ab', keyType: 0 })], [0, 2, 3, 0x61, 0x62, 0]);
  });

  it('AddPartitionsToTxn v0-v3', () => {
    for (const v of versions(AddPartitionsToTxn)) {
      const topics = [{ name: 't', partitions: [0, 2] }, { name: 'u', partitions: [1] }];
      const req = whole(AddPartitionsToTxn.encode(v, { transactionalId: 'x', producerId: 7n, producerEpoch: 3, topics }), (r) => decodeAddPartitionsToTxnRequest(v, r));
      assert.deepEqual(req, { transactionalId: 'x', producerId: 7, producerEpoch: 3, topics }, `v${v}`);
      const results = [{ name: 't', partitions: [{ partitionIndex: 0, errorCode: 0 }, { partitionIndex: 2, errorCode: 51 }] }];
      assert.deepEqual(whole(encodeAddPartitionsToTxnResponse(v, { throttleTimeMs: 1, results }), (r) => AddPartitionsToTxn.decode(v, r)), { throttleTimeMs: 1, results });
    }
    assert.deepEqual(
      [...AddPartitionsToTxn.encode(0, { transactionalId: 'x', producerId: 1n, producerEpoch: 2, topics: [{ name: 't', partitions: [5] }] })],
      [0, 1, 0x78, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 1, 0, 1, 0x74, 0, 0, 0, 1, 0, 0, 0, 5],
    );
  });

  it('AddOffsetsToTxn v0-v4 and EndTxn v0-v5 (v5 answers the bumped epoch)', () => {
    for (const v of versions(AddOffsetsToTxn)) {
      const req = whole(AddOffsetsToTxn.encode(v, { transactionalId: 'x', producerId: 9n, producerEpoch: 1, groupId: 'g' }), (r) => decodeAddOffsetsToTxnRequest(v, r));
      assert.deepEqual(req, { transactionalId: 'x', producerId: 9, producerEpoch: 1, groupId: 'g' });
      assert.deepEqual(whole(encodeErrorOnlyTxnResponse(v, { throttleTimeMs: 0, errorCode: 90 }), (r) => AddOffsetsToTxn.decode(v, r)), { throttleTimeMs: 0, errorCode: 90 });
    }
    for (const v of versions(EndTxn)) {
      const req = whole(EndTxn.encode(v, { transactionalId: 'x', producerId: 9n, producerEpoch: 1, committed: v % 2 === 0 }), (r) => decodeEndTxnRequest(v, r));
      assert.deepEqual(req, { transactionalId: 'x', producerId: 9, producerEpoch: 1, committed: v % 2 === 0 });
      const res = whole(encodeEndTxnResponse(v, { throttleTimeMs: 0, errorCode: 0, producerId: 9, producerEpoch: 2 }), (r) => EndTxn.decode(v, r));
      assert.deepEqual(res, { throttleTimeMs: 0, errorCode: 0, producerId: v >= 5 ? 9n : -1n, producerEpoch: v >= 5 ? 2 : -1 });
    }
    // v3 (flexible): compact string, int64, int16, bool, empty tag buffer.
    assert.deepEqual([...EndTxn.encode(3, { transactionalId: 'x', producerId: 1n, producerEpoch: 2, committed: true })], [2, 0x78, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2, 1, 0]);
  });

  it('TxnOffsetCommit v0-v5 (generation and member from v3, leader epoch from v2)', () => {
    for (const v of versions(TxnOffsetCommit)) {
      const topics = [{ name: 'in', partitions: [{ partitionIndex: 1, committedOffset: 42n, committedLeaderEpoch: 4, committedMetadata: 'm' }] }];
      const req = whole(
        TxnOffsetCommit.encode(v, { transactionalId: 'x', groupId: 'g', producerId: 9n, producerEpoch: 1, generationId: 5, memberId: 'mem', groupInstanceId: null, topics }),
        (r) => decodeTxnOffsetCommitRequest(v, r),
      );
      assert.deepEqual(req, {
        transactionalId: 'x', groupId: 'g', producerId: 9, producerEpoch: 1,
        generationId: v >= 3 ? 5 : -1, memberId: v >= 3 ? 'mem' : '', groupInstanceId: null,
        topics: [{ name: 'in', partitions: [{ partitionIndex: 1, committedOffset: 42, committedLeaderEpoch: v >= 2 ? 4 : -1, committedMetadata: 'm' }] }],
      }, `v${v}`);
      const resTopics = [{ name: 'in', partitions: [{ partitionIndex: 1, errorCode: 22 }] }];
      assert.deepEqual(whole(encodeTxnOffsetCommitResponse(v, { throttleTimeMs: 0, topics: resTopics }), (r) => TxnOffsetCommit.decode(v, r)), { throttleTimeMs: 0, topics: resTopics });
    }
  });

  it('ApiVersions v3 reads finalized_features (transaction.version) and ignores its absence', () => {
    const apiKeys = [{ apiKey: 0, minVersion: 3, maxVersion: 12 }];
    const withFeatures = whole(encodeApiVersionsResponse(3, { errorCode: 0, apiKeys, throttleTimeMs: 0, finalizedFeatures: new Map([['transaction.version', 2]]) }), (r) => ApiVersions.decode(3, r));
    assert.deepEqual([...withFeatures.finalizedFeatures!], [['transaction.version', 2]]);
    const without = whole(encodeApiVersionsResponse(3, { errorCode: 0, apiKeys, throttleTimeMs: 0 }), (r) => ApiVersions.decode(3, r));
    assert.equal(without.finalizedFeatures, undefined);
  });
});
