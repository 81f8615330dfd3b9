import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { ApiKey, apiName } from '../../../ts/protocol/api-keys.js';
import { ErrorCode, errorForCode, isStaleMetadataError } from '../../../ts/protocol/error-codes.js';

describe('errorForCode', () => {
  it('knows the codes the producer acts on, with KafkaJS type names and Java retriable flags', () => {
    const expect: [number, string, boolean][] = [
      [0, 'NONE', false],
      [-1, 'UNKNOWN', false],
      [2, 'CORRUPT_MESSAGE', true],
      [3, 'UNKNOWN_TOPIC_OR_PARTITION', true],
      [5, 'LEADER_NOT_AVAILABLE', true],
      [6, 'NOT_LEADER_FOR_PARTITION', true],
      [7, 'REQUEST_TIMED_OUT', true],
      [8, 'BROKER_NOT_AVAILABLE', false],
      [9, 'REPLICA_NOT_AVAILABLE', true],
      [10, 'MESSAGE_TOO_LARGE', false],
      [13, 'NETWORK_EXCEPTION', true],
      [18, 'RECORD_LIST_TOO_LARGE', false],
      [19, 'NOT_ENOUGH_REPLICAS', true],
      [20, 'NOT_ENOUGH_REPLICAS_AFTER_APPEND', true],
      [29, 'TOPIC_AUTHORIZATION_FAILED', false],
      [35, 'UNSUPPORTED_VERSION', false],
      [45, 'OUT_OF_ORDER_SEQUENCE_NUMBER', false],
      [46, 'DUPLICATE_SEQUENCE_NUMBER', false],
      [47, 'INVALID_PRODUCER_EPOCH', false],
      [51, 'CONCURRENT_TRANSACTIONS', true],
      [56, 'KAFKA_STORAGE_ERROR', true],
      [59, 'UNKNOWN_PRODUCER_ID', false],
      [72, 'LISTENER_NOT_FOUND', true],
      [74, 'FENCED_LEADER_EPOCH', true],
      [75, 'UNKNOWN_LEADER_EPOCH', true],
      [89, 'THROTTLING_QUOTA_EXCEEDED', true],
      [90, 'PRODUCER_FENCED', false],
      [87, 'INVALID_RECORD', false],
      [100, 'UNKNOWN_TOPIC_ID', true],
      [103, 'INCONSISTENT_TOPIC_ID', true],
      [120, 'TRANSACTION_ABORTABLE', false],
    ];
    for (const [code, type, retriable] of expect) {
      const e = errorForCode(code);
      assert.equal(e.code, code);
      assert.equal(e.type, type, `type of ${code}`);
      assert.equal(e.retriable, retriable, `retriable of ${code}`);
      assert.ok(e.message.length > 0);
    }
  });

  it('covers every code from -1 to 133', () => {
    for (let code = -1; code <= 133; code++) assert.doesNotMatch(errorForCode(code).message, /which this client does not know/, String(code));
  });

  it('maps unknown codes to UNKNOWN, not retriable, keeping the number', () => {
    const e = errorForCode(999);
    assert.equal(e.type, 'UNKNOWN');
    assert.equal(e.retriable, false);
    assert.equal(e.code, 999);
    assert.match(e.message, /999/);
  });

  it('ErrorCode constants point at the right rows', () => {
    assert.equal(ErrorCode.NONE, 0);
    assert.equal(errorForCode(ErrorCode.NOT_LEADER_OR_FOLLOWER).type, 'NOT_LEADER_FOR_PARTITION');
    assert.equal(errorForCode(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER).type, 'OUT_OF_ORDER_SEQUENCE_NUMBER');
    for (const [name, code] of Object.entries(ErrorCode)) {
      const type = errorForCode(code).type;
      // KafkaJS's older names differ for these; every other constant is named as its row.
      const renamed: Record<string, string> = {
        UNKNOWN_SERVER_ERROR: 'UNKNOWN',
        NOT_LEADER_OR_FOLLOWER: 'NOT_LEADER_FOR_PARTITION',
        COORDINATOR_LOAD_IN_PROGRESS: 'GROUP_LOAD_IN_PROGRESS',
        COORDINATOR_NOT_AVAILABLE: 'GROUP_COORDINATOR_NOT_AVAILABLE',
        NOT_COORDINATOR: 'NOT_COORDINATOR_FOR_GROUP',
      };
      assert.equal(type, renamed[name] ?? name, name);
    }
  });

  it('agrees with the KafkaJS table (installed as a dev dependency) on every code KafkaJS knows', () => {
    const require = createRequire(__filename);
    const { errorCodes } = require('kafkajs/src/protocol/error') as {
      errorCodes: { type: string; code: number; retriable: boolean }[];
    };
    assert.ok(errorCodes.length > 80);
    for (const k of errorCodes) {
      const e = errorForCode(k.code);
      assert.equal(e.type, k.type, `type of ${k.code}`);
      assert.equal(e.retriable, k.retriable, `retriable of ${k.code}`);
    }
  });
});

describe('isStaleMetadataError', () => {
  it('is true for the codes whose Java exception is an InvalidMetadataException, LISTENER_NOT_FOUND included', () => {
    // From apache/kafka's Errors.java: each code's exception class extends InvalidMetadataException.
    const javaInvalidMetadata = [3, 5, 6, 9, 13, 56, 72, 74, 80, 83, 84, 100, 103];
    for (const code of javaInvalidMetadata) assert.equal(isStaleMetadataError(code), true, String(code));
    assert.equal(isStaleMetadataError(ErrorCode.LISTENER_NOT_FOUND), true);
    // UNKNOWN_LEADER_EPOCH: the sender has always refreshed on it; kept.
    assert.equal(isStaleMetadataError(ErrorCode.UNKNOWN_LEADER_EPOCH), true);
    const stale = new Set([...javaInvalidMetadata, 75]);
    for (let code = -1; code <= 133; code++) {
      if (!stale.has(code)) assert.equal(isStaleMetadataError(code), false, String(code));
    }
    // Every stale-metadata code is retriable: the sender retries after the refresh.
    for (const code of stale) assert.equal(errorForCode(code).retriable, true, String(code));
  });
});

describe('api keys', () => {
  it('names keys as the protocol docs do', () => {
    assert.equal(apiName(ApiKey.Produce), 'Produce');
    assert.equal(apiName(ApiKey.Metadata), 'Metadata');
    assert.equal(apiName(ApiKey.ApiVersions), 'ApiVersions');
    assert.equal(apiName(ApiKey.InitProducerId), 'InitProducerId');
    assert.equal(apiName(ApiKey.AddPartitionsToTxn), 'AddPartitionsToTxn');
    assert.equal(apiName(ApiKey.EndTxn), 'EndTxn');
    assert.equal(apiName(ApiKey.TxnOffsetCommit), 'TxnOffsetCommit');
    assert.equal(apiName(ApiKey.DescribeCluster), 'DescribeCluster');
    assert.equal(apiName(ApiKey.PushTelemetry), 'PushTelemetry');
    assert.equal(apiName(75), 'DescribeTopicPartitions');
    assert.equal(apiName(92), 'DeleteShareGroupOffsets');
    assert.equal(apiName(4242), 'Unknown(4242)');
  });
});
