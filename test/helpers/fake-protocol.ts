/**
 * The broker's half of the protocol, for the fake cluster (fake-cluster.ts): decoding the
 * requests a producer sends and encoding the responses a broker gives. ts/protocol/ only has
 * the client's half (encode requests, decode responses); this file is the mirror image, built
 * on the same Reader and Writer, so the fake speaks exactly the grammar the client's codecs
 * document (see the grammar comments in ts/protocol/{api-versions,metadata,produce}.ts).
 * InitProducerId's grammar is given here too; the transaction APIs' grammars are in their
 * ts/protocol files.
 *
 * Test-side only: none of this ships. The unit tests round-trip every encoder here through the
 * client's decoders (test/unit/helpers/fake-protocol.test.ts), so a mistake in either half shows.
 */

import { ApiKey } from '../../ts/protocol/api-keys.js';
import { ErrorCode } from '../../ts/protocol/error-codes.js';
import { Reader } from '../../ts/protocol/reader.js';
import { Writer } from '../../ts/protocol/writer.js';

/** First flexible version (request header v2, response header v1, compact encodings) of each
 * API the fake decodes. ApiVersions responses always use header v0 (see request-header.ts). */
export const FLEXIBLE_FROM: Readonly<Record<number, number>> = {
  [ApiKey.Produce]: 9,
  [ApiKey.Metadata]: 9,
  [ApiKey.ApiVersions]: 3,
  [ApiKey.InitProducerId]: 2,
  [ApiKey.FindCoordinator]: 3,
  [ApiKey.AddPartitionsToTxn]: 3,
  [ApiKey.AddOffsetsToTxn]: 3,
  [ApiKey.EndTxn]: 3,
  [ApiKey.TxnOffsetCommit]: 3,
};

/** Whether `apiKey` at `version` is a flexible version; false for APIs the fake does not know
 * (their requests are recorded but not decoded, see FakeCluster.onRequest). */
export function isFlexible(apiKey: number, version: number): boolean {
  const from = FLEXIBLE_FROM[apiKey];
  return from !== undefined && version >= from;
}

/** Helpers that pick the classic or the compact encoding of each primitive once per message. */
function readers(r: Reader, flexible: boolean) {
  return {
    str: flexible ? () => r.compactString() : () => r.string(),
    nullableStr: flexible ? () => r.compactNullableString() : () => r.nullableString(),
    arr: <T>(each: (r: Reader) => T): T[] | null => (flexible ? r.compactNullableArray(each) : r.nullableArray(each)),
    tags: flexible ? () => r.skipTaggedFields() : () => undefined,
  };
}

function writers(w: Writer, flexible: boolean) {
  return {
    str: (s: string | null) => (flexible ? w.compactString(s) : w.string(s)),
    arr: <T>(items: readonly T[] | null, each: (w: Writer, item: T) => void) =>
      flexible ? w.compactArray(items, each) : w.array(items, each),
    tags: () => (flexible ? w.emptyTaggedFields() : w),
  };
}

// ---- ApiVersions (key 18) -------------------------------------------------------------------

export interface ApiVersionsRequestBody {
  /** v3+ only; null before. */
  clientSoftwareName: string | null;
  clientSoftwareVersion: string | null;
}

export function decodeApiVersionsRequest(version: number, r: Reader): ApiVersionsRequestBody {
  if (version < 3) return { clientSoftwareName: null, clientSoftwareVersion: null };
  const clientSoftwareName = r.compactString();
  const clientSoftwareVersion = r.compactString();
  r.skipTaggedFields();
  return { clientSoftwareName, clientSoftwareVersion };
}

export interface ApiRange {
  apiKey: number;
  minVersion: number;
  maxVersion: number;
}

/**
 * An ApiVersions response body at `version` (0..3). UNSUPPORTED_VERSION is always written in
 * the v0 layout, whatever was asked, as a Java broker does, so an old client can read it.
 */
export function encodeApiVersionsResponse(
  version: number,
  res: { errorCode: number; apiKeys: readonly ApiRange[]; throttleTimeMs: number; finalizedFeatures?: ReadonlyMap<string, number> },
): Buffer {
  const w = new Writer(256);
  w.int16(res.errorCode);
  if (res.errorCode === ErrorCode.UNSUPPORTED_VERSION || version < 3) {
    w.array(res.apiKeys, (aw, k) => aw.int16(k.apiKey).int16(k.minVersion).int16(k.maxVersion));
    if (version >= 1 && res.errorCode !== ErrorCode.UNSUPPORTED_VERSION) w.int32(res.throttleTimeMs);
    return w.finish();
  }
  w.compactArray(res.apiKeys, (aw, k) => aw.int16(k.apiKey).int16(k.minVersion).int16(k.maxVersion).emptyTaggedFields());
  w.int32(res.throttleTimeMs);
  if (res.finalizedFeatures && res.finalizedFeatures.size > 0) {
    // Tagged fields 1 (finalized_features_epoch) and 2 (finalized_features), as a KRaft broker sends them.
    const epoch = new Writer(8).int64n(1).finish();
    const features = new Writer(64)
      .compactArray([...res.finalizedFeatures], (fw, [name, level]) => fw.compactString(name).int16(level).int16(level === 0 ? 0 : 1).emptyTaggedFields())
      .finish();
    w.uvarint(2).uvarint(1).uvarint(epoch.length).raw(epoch).uvarint(2).uvarint(features.length).raw(features);
  } else {
    w.emptyTaggedFields();
  }
  return w.finish();
}

// ---- Metadata (key 3) -----------------------------------------------------------------------

export interface MetadataRequestBody {
  /** null = every topic. */
  topics: string[] | null;
  /** v4+; true before (older brokers always auto-created). */
  allowAutoTopicCreation: boolean;
}

export function decodeMetadataRequest(version: number, r: Reader): MetadataRequestBody {
  const flexible = version >= 9;
  const { arr, tags } = readers(r, flexible);
  const topics = arr((tr) => {
    if (version >= 10) tr.uuid();
    const name = flexible ? tr.compactNullableString() : tr.string();
    tags();
    return name ?? '';
  });
  const allowAutoTopicCreation = version >= 4 ? r.boolean() : true;
  if (version >= 8) {
    if (version <= 10) r.boolean(); // include_cluster_authorized_operations
    r.boolean(); // include_topic_authorized_operations
  }
  tags();
  return { topics, allowAutoTopicCreation };
}

export interface MetadataResponseBody {
  throttleTimeMs: number;
  brokers: readonly { nodeId: number; host: string; port: number; rack: string | null }[];
  clusterId: string | null;
  controllerId: number;
  topics: readonly {
    errorCode: number;
    name: string;
    topicId: Buffer;
    isInternal: boolean;
    partitions: readonly {
      errorCode: number;
      partitionIndex: number;
      leaderId: number;
      leaderEpoch: number;
      replicaNodes: readonly number[];
      isrNodes: readonly number[];
      offlineReplicas: readonly number[];
    }[];
  }[];
}

/** A Metadata response body, v1..v12 (the client's Metadata.decode range). */
export function encodeMetadataResponse(version: number, res: MetadataResponseBody): Buffer {
  const flexible = version >= 9;
  const w = new Writer(512);
  const { str, arr, tags } = writers(w, flexible);
  const int32s = (xs: readonly number[]) => arr(xs, (iw, x) => iw.int32(x));
  if (version >= 3) w.int32(res.throttleTimeMs);
  arr(res.brokers, (_bw, b) => {
    w.int32(b.nodeId);
    str(b.host);
    w.int32(b.port);
    str(b.rack);
    tags();
  });
  if (version >= 2) str(res.clusterId);
  w.int32(res.controllerId);
  arr(res.topics, (_tw, t) => {
    w.int16(t.errorCode);
    str(t.name);
    if (version >= 10) w.uuid(t.topicId);
    w.boolean(t.isInternal);
    arr(t.partitions, (_pw, p) => {
      w.int16(p.errorCode).int32(p.partitionIndex).int32(p.leaderId);
      if (version >= 7) w.int32(p.leaderEpoch);
      int32s(p.replicaNodes);
      int32s(p.isrNodes);
      if (version >= 5) int32s(p.offlineReplicas);
      tags();
    });
    if (version >= 8) w.int32(-2147483648); // topic_authorized_operations: not asked for
    tags();
  });
  if (version >= 8 && version <= 10) w.int32(-2147483648); // cluster_authorized_operations
  tags();
  return w.finish();
}

// ---- Produce (key 0) ------------------------------------------------------------------------

export interface ProduceRequestBody {
  transactionalId: string | null;
  acks: number;
  timeoutMs: number;
  topics: { name: string; partitions: { index: number; records: Buffer | null }[] }[];
}

/** A Produce request body, v3..v11. `records` is each partition's raw RECORDS bytes (views of
 * the frame), decoded by the caller with decodeRecordBatches. */
export function decodeProduceRequest(version: number, r: Reader): ProduceRequestBody {
  const flexible = version >= 9;
  const { str, nullableStr, arr, tags } = readers(r, flexible);
  const transactionalId = nullableStr();
  const acks = r.int16();
  const timeoutMs = r.int32();
  const topics =
    arr(() => {
      const name = str();
      const partitions =
        arr(() => {
          const index = r.int32();
          const records = flexible ? r.compactNullableBytes() : r.nullableBytes();
          tags();
          return { index, records };
        }) ?? [];
      tags();
      return { name, partitions };
    }) ?? [];
  tags();
  return { transactionalId, acks, timeoutMs, topics };
}

export interface ProducePartitionResponseBody {
  index: number;
  errorCode: number;
  baseOffset: number;
  logAppendTimeMs: number;
  logStartOffset: number;
  recordErrors: readonly { batchIndex: number; message: string | null }[];
  errorMessage: string | null;
  /** v10+, tagged field 0 (KIP-951). */
  currentLeader: { leaderId: number; leaderEpoch: number } | null;
}

export interface ProduceResponseBody {
  topics: readonly { name: string; partitions: readonly ProducePartitionResponseBody[] }[];
  throttleTimeMs: number;
  /** v10+, tagged field 0 of the response (KIP-951); empty = not written. */
  nodeEndpoints: readonly { nodeId: number; host: string; port: number; rack: string | null }[];
}

/** A Produce response body, v3..v11. */
export function encodeProduceResponse(version: number, res: ProduceResponseBody): Buffer {
  const flexible = version >= 9;
  const w = new Writer(256);
  const { str, arr, tags } = writers(w, flexible);
  arr(res.topics, (_tw, t) => {
    str(t.name);
    arr(t.partitions, (_pw, p) => {
      w.int32(p.index).int16(p.errorCode).int64n(p.baseOffset).int64n(p.logAppendTimeMs);
      if (version >= 5) w.int64n(p.logStartOffset);
      if (version >= 8) {
        arr(p.recordErrors, (_ew, e) => {
          w.int32(e.batchIndex);
          str(e.message);
          tags();
        });
        str(p.errorMessage);
      }
      if (flexible) {
        if (version >= 10 && p.currentLeader !== null) {
          const tw = new Writer(16);
          tw.int32(p.currentLeader.leaderId).int32(p.currentLeader.leaderEpoch).emptyTaggedFields();
          writeTaggedFields(w, [[0, tw.finish()]]);
        } else {
          w.emptyTaggedFields();
        }
      }
    });
    tags();
  });
  w.int32(res.throttleTimeMs);
  if (flexible) {
    if (version >= 10 && res.nodeEndpoints.length > 0) {
      const ew = new Writer(64);
      ew.compactArray(res.nodeEndpoints, (nw, e) =>
        nw.int32(e.nodeId).compactString(e.host).int32(e.port).compactString(e.rack).emptyTaggedFields(),
      );
      writeTaggedFields(w, [[0, ew.finish()]]);
    } else {
      w.emptyTaggedFields();
    }
  }
  return w.finish();
}

function writeTaggedFields(w: Writer, fields: readonly [number, Buffer][]): void {
  w.uvarint(fields.length);
  for (const [tag, data] of fields) w.uvarint(tag).uvarint(data.length).raw(data);
}

// ---- InitProducerId (key 22) ----------------------------------------------------------------
//
//   InitProducerId Request (Version: 0-1) => transactional_id transaction_timeout_ms
//     transactional_id => NULLABLE_STRING
//     transaction_timeout_ms => INT32
//   InitProducerId Request (Version: 2) => same fields, flexible (COMPACT_NULLABLE_STRING, TAG_BUFFER)
//   InitProducerId Request (Version: 3-5) => transactional_id transaction_timeout_ms producer_id
//       producer_epoch TAG_BUFFER
//     producer_id => INT64                  -1, or the current id to bump its epoch (KIP-360)
//     producer_epoch => INT16               -1, or the current epoch
//   InitProducerId Response (Version: 0-5) => throttle_time_ms error_code producer_id producer_epoch
//     throttle_time_ms => INT32
//     error_code => INT16
//     producer_id => INT64
//     producer_epoch => INT16
//     (flexible from v2: a TAG_BUFFER at the end)

export interface InitProducerIdRequestBody {
  transactionalId: string | null;
  transactionTimeoutMs: number;
  /** v3+; -1 before. */
  producerId: number;
  /** v3+; -1 before. */
  producerEpoch: number;
}

export function decodeInitProducerIdRequest(version: number, r: Reader): InitProducerIdRequestBody {
  const flexible = version >= 2;
  const transactionalId = flexible ? r.compactNullableString() : r.nullableString();
  const transactionTimeoutMs = r.int32();
  let producerId = -1;
  let producerEpoch = -1;
  if (version >= 3) {
    producerId = Number(r.int64());
    producerEpoch = r.int16();
  }
  if (flexible) r.skipTaggedFields();
  return { transactionalId, transactionTimeoutMs, producerId, producerEpoch };
}

/** An InitProducerId request body (for tests that play the client, and this file's tests). */
export function encodeInitProducerIdRequest(version: number, req: InitProducerIdRequestBody): Buffer {
  const flexible = version >= 2;
  const w = new Writer(64);
  if (flexible) w.compactString(req.transactionalId);
  else w.string(req.transactionalId);
  w.int32(req.transactionTimeoutMs);
  if (version >= 3) w.int64n(req.producerId).int16(req.producerEpoch);
  if (flexible) w.emptyTaggedFields();
  return w.finish();
}

export interface InitProducerIdResponseBody {
  throttleTimeMs: number;
  errorCode: number;
  producerId: number;
  producerEpoch: number;
}

export function encodeInitProducerIdResponse(version: number, res: InitProducerIdResponseBody): Buffer {
  const w = new Writer(32);
  w.int32(res.throttleTimeMs).int16(res.errorCode).int64n(res.producerId).int16(res.producerEpoch);
  if (version >= 2) w.emptyTaggedFields();
  return w.finish();
}

/** Decodes an InitProducerId response (for tests that play the client through a BrokerConnection). */
export function decodeInitProducerIdResponse(version: number, r: Reader): InitProducerIdResponseBody {
  const res = {
    throttleTimeMs: r.int32(),
    errorCode: r.int16(),
    producerId: Number(r.int64()),
    producerEpoch: r.int16(),
  };
  if (version >= 2) r.skipTaggedFields();
  return res;
}

// ---- transactions: FindCoordinator (10), AddPartitionsToTxn (24), AddOffsetsToTxn (25),
// EndTxn (26), TxnOffsetCommit (28) ------------------------------------------------------------
//
// The grammars are in the client's codecs (ts/protocol/find-coordinator.ts,
// add-partitions-to-txn.ts, add-offsets-to-txn.ts, end-txn.ts, txn-offset-commit.ts); here is
// the broker's half: decode the request, encode the response. Every one is flexible from v3.

export interface FindCoordinatorRequestBody {
  keyType: number;
  keys: string[];
}

export function decodeFindCoordinatorRequest(version: number, r: Reader): FindCoordinatorRequestBody {
  const flexible = version >= 3;
  if (version >= 4) {
    const keyType = r.int8();
    const keys = r.compactArray((kr) => kr.compactString());
    r.skipTaggedFields();
    return { keyType, keys };
  }
  const key = flexible ? r.compactString() : r.string();
  const keyType = version >= 1 ? r.int8() : 0;
  if (flexible) r.skipTaggedFields();
  return { keyType, keys: [key] };
}

export interface FindCoordinatorResponseBody {
  throttleTimeMs: number;
  coordinators: { key: string; nodeId: number; host: string; port: number; errorCode: number; errorMessage: string | null }[];
}

export function encodeFindCoordinatorResponse(version: number, res: FindCoordinatorResponseBody): Buffer {
  const w = new Writer(128);
  w.int32(res.throttleTimeMs);
  if (version >= 4) {
    w.compactArray(res.coordinators, (cw, c) =>
      cw.compactString(c.key).int32(c.nodeId).compactString(c.host).int32(c.port).int16(c.errorCode).compactString(c.errorMessage).emptyTaggedFields(),
    );
    return w.emptyTaggedFields().finish();
  }
  const flexible = version >= 3;
  const c = res.coordinators[0]!;
  const { str, tags } = writers(w, flexible);
  w.int16(c.errorCode);
  str(c.errorMessage);
  w.int32(c.nodeId);
  str(c.host);
  w.int32(c.port);
  tags();
  return w.finish();
}

export interface TxnTopicPartitions {
  name: string;
  partitions: number[];
}

export interface AddPartitionsToTxnRequestBody {
  transactionalId: string;
  producerId: number;
  producerEpoch: number;
  topics: TxnTopicPartitions[];
}

/** v0-3 (the client versions). */
export function decodeAddPartitionsToTxnRequest(version: number, r: Reader): AddPartitionsToTxnRequestBody {
  const flexible = version >= 3;
  const { str, arr, tags } = readers(r, flexible);
  const transactionalId = str();
  const producerId = Number(r.int64());
  const producerEpoch = r.int16();
  const topics =
    arr((tr) => {
      const name = flexible ? tr.compactString() : tr.string();
      const partitions = (flexible ? tr.compactNullableArray((pr) => pr.int32()) : tr.nullableArray((pr) => pr.int32())) ?? [];
      if (flexible) tr.skipTaggedFields();
      return { name, partitions };
    }) ?? [];
  tags();
  return { transactionalId, producerId, producerEpoch, topics };
}

export function encodeAddPartitionsToTxnResponse(
  version: number,
  res: { throttleTimeMs: number; results: { name: string; partitions: { partitionIndex: number; errorCode: number }[] }[] },
): Buffer {
  const flexible = version >= 3;
  const w = new Writer(128);
  const { str, arr, tags } = writers(w, flexible);
  w.int32(res.throttleTimeMs);
  arr(res.results, (tw, t) => {
    str(t.name);
    arr(t.partitions, (pw, p) => {
      pw.int32(p.partitionIndex).int16(p.errorCode);
      tags();
    });
    tags();
  });
  tags();
  return w.finish();
}

export interface AddOffsetsToTxnRequestBody {
  transactionalId: string;
  producerId: number;
  producerEpoch: number;
  groupId: string;
}

export function decodeAddOffsetsToTxnRequest(version: number, r: Reader): AddOffsetsToTxnRequestBody {
  const flexible = version >= 3;
  const { str, tags } = readers(r, flexible);
  const transactionalId = str();
  const producerId = Number(r.int64());
  const producerEpoch = r.int16();
  const groupId = str();
  tags();
  return { transactionalId, producerId, producerEpoch, groupId };
}

/** AddOffsetsToTxn and EndTxn before v5 answer the same two fields. */
export function encodeErrorOnlyTxnResponse(version: number, res: { throttleTimeMs: number; errorCode: number }): Buffer {
  const w = new Writer(16);
  w.int32(res.throttleTimeMs).int16(res.errorCode);
  if (version >= 3) w.emptyTaggedFields();
  return w.finish();
}

export interface EndTxnRequestBody {
  transactionalId: string;
  producerId: number;
  producerEpoch: number;
  committed: boolean;
}

export function decodeEndTxnRequest(version: number, r: Reader): EndTxnRequestBody {
  const flexible = version >= 3;
  const { str, tags } = readers(r, flexible);
  const transactionalId = str();
  const producerId = Number(r.int64());
  const producerEpoch = r.int16();
  const committed = r.boolean();
  tags();
  return { transactionalId, producerId, producerEpoch, committed };
}

export function encodeEndTxnResponse(version: number, res: { throttleTimeMs: number; errorCode: number; producerId: number; producerEpoch: number }): Buffer {
  const w = new Writer(32);
  w.int32(res.throttleTimeMs).int16(res.errorCode);
  if (version >= 5) w.int64n(res.producerId).int16(res.producerEpoch);
  if (version >= 3) w.emptyTaggedFields();
  return w.finish();
}

export interface TxnOffsetCommitRequestBody {
  transactionalId: string;
  groupId: string;
  producerId: number;
  producerEpoch: number;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  topics: { name: string; partitions: { partitionIndex: number; committedOffset: number; committedLeaderEpoch: number; committedMetadata: string | null }[] }[];
}

export function decodeTxnOffsetCommitRequest(version: number, r: Reader): TxnOffsetCommitRequestBody {
  const flexible = version >= 3;
  const { str, nullableStr, arr, tags } = readers(r, flexible);
  const transactionalId = str();
  const groupId = str();
  const producerId = Number(r.int64());
  const producerEpoch = r.int16();
  let generationId = -1;
  let memberId = '';
  let groupInstanceId: string | null = null;
  if (version >= 3) {
    generationId = r.int32();
    memberId = str();
    groupInstanceId = nullableStr();
  }
  const topics =
    arr((tr) => {
      const name = flexible ? tr.compactString() : tr.string();
      const partitions =
        (flexible ? tr.compactNullableArray.bind(tr) : tr.nullableArray.bind(tr))((pr: Reader) => {
          const partitionIndex = pr.int32();
          const committedOffset = Number(pr.int64());
          const committedLeaderEpoch = version >= 2 ? pr.int32() : -1;
          const committedMetadata = flexible ? pr.compactNullableString() : pr.nullableString();
          if (flexible) pr.skipTaggedFields();
          return { partitionIndex, committedOffset, committedLeaderEpoch, committedMetadata };
        }) ?? [];
      if (flexible) tr.skipTaggedFields();
      return { name, partitions };
    }) ?? [];
  tags();
  return { transactionalId, groupId, producerId, producerEpoch, generationId, memberId, groupInstanceId, topics };
}

export function encodeTxnOffsetCommitResponse(
  version: number,
  res: { throttleTimeMs: number; topics: { name: string; partitions: { partitionIndex: number; errorCode: number }[] }[] },
): Buffer {
  return encodeAddPartitionsToTxnResponse(version, { throttleTimeMs: res.throttleTimeMs, results: res.topics });
}
