/**
 * Produce (key 0), versions 3 to 11 (and 12 through ProduceTxnV2): record batches to partition leaders.
 *
 *   Produce Request (Version: 3-8) => transactional_id acks timeout_ms [topic_data]
 *     transactional_id => NULLABLE_STRING
 *     acks => INT16                         0, 1 or -1 (all in-sync replicas)
 *     timeout_ms => INT32                   how long the leader waits for replicas (acks=-1)
 *     topic_data => name [partition_data]
 *       name => STRING
 *       partition_data => index records
 *         index => INT32
 *         records => RECORDS                int32 length + record batches (NULLABLE_BYTES)
 *   Produce Request (Version: 9-11) => same fields, flexible: COMPACT_NULLABLE_STRING,
 *       COMPACT_ARRAY, COMPACT_STRING, COMPACT_RECORDS (uvarint length + 1), and a TAG_BUFFER
 *       after each partition, each topic and the request
 *
 *   Produce Response (Version: 3-11) => [responses] throttle_time_ms
 *     responses => name [partition_responses]
 *       name => STRING
 *       partition_responses => index error_code base_offset log_append_time_ms log_start_offset
 *                              [record_errors] error_message
 *         index => INT32
 *         error_code => INT16
 *         base_offset => INT64
 *         log_append_time_ms => INT64       -1 unless the topic uses LogAppendTime
 *         log_start_offset => INT64         v5+
 *         record_errors => batch_index batch_index_error_message      v8+
 *           batch_index => INT32
 *           batch_index_error_message => NULLABLE_STRING
 *         error_message => NULLABLE_STRING  v8+
 *     throttle_time_ms => INT32
 *   From v9 the response is flexible. v10 (KIP-951) adds tagged fields so a client can follow
 *   a leader move without a metadata round trip:
 *     partition_responses tag 0: current_leader => leader_id INT32, leader_epoch INT32, TAG_BUFFER
 *     response tag 0: node_endpoints => [node_id INT32, host COMPACT_STRING, port INT32,
 *                                        rack COMPACT_NULLABLE_STRING, TAG_BUFFER]
 *
 * v12 is v11 on the wire (KIP-890): it tells the leader that a transactional producer relies on
 * it to add the partition to the transaction (transactions V2). Only a transactional producer
 * on a transaction.version 2 cluster sends it (ProduceTxnV2), as the Java client does.
 *
 * Encoding never copies record batches: encode() returns the request body as a list of chunks,
 * small framing buffers interleaved with the caller's batch buffers, for a vectored write.
 */

import { ApiKey } from './api-keys.js';
import type { Reader } from './reader.js';
import { checkVersion, type ApiDescriptor } from './versions.js';
import { Writer } from './writer.js';

/**
 * A record batch that stays in the native memory it was encoded in (the native backend on the
 * io_uring transport, issue 15): the ring writes it from there by `ref`, so no Buffer is made
 * for it. Whatever truly needs its bytes in JavaScript (a connection not on the ring, the
 * split after MESSAGE_TOO_LARGE) asks toBuffer(); a retry after an epoch bump restamps it
 * natively.
 */
export interface HeldRecords {
  /** Bytes of the batch. */
  readonly length: number;
  /** What the ring's write names it by (ts/net/transport-uring.ts). */
  readonly ref: number;
  /** The bytes as a Buffer (made on the first call, then the same one until a restamp). */
  toBuffer(): Buffer;
  /** Rewrites producer id, epoch and base sequence, and the CRC32C (restampProducerState). */
  restamp(producerId: bigint, producerEpoch: number, baseSequence: number): void;
}

/** A piece of an encoded request: bytes, or a held batch written from native memory. */
export type RequestChunk = Buffer | HeldRecords;

export function isHeldRecords(chunk: RequestChunk | readonly Buffer[] | null | undefined): chunk is HeldRecords {
  return chunk != null && !Buffer.isBuffer(chunk) && typeof (chunk as HeldRecords).ref === 'number';
}

export interface ProducePartitionData {
  index: number;
  /** One or more whole record batches for this partition. */
  records: Buffer | HeldRecords | readonly Buffer[];
}

export interface ProduceTopicData {
  name: string;
  partitionData: readonly ProducePartitionData[];
}

export interface ProduceRequest {
  transactionalId: string | null;
  acks: number;
  timeoutMs: number;
  topicData: readonly ProduceTopicData[];
}

export interface ProduceRecordError {
  batchIndex: number;
  batchIndexErrorMessage: string | null;
}

export interface LeaderIdAndEpoch {
  leaderId: number;
  leaderEpoch: number;
}

export interface ProducePartitionResponse {
  index: number;
  errorCode: number;
  baseOffset: bigint;
  logAppendTimeMs: bigint;
  /** v5+; -1n before. */
  logStartOffset: bigint;
  /** v8+; empty before. */
  recordErrors: ProduceRecordError[];
  /** v8+; null before. */
  errorMessage: string | null;
  /** v10+, sent with NOT_LEADER_OR_FOLLOWER / FENCED_LEADER_EPOCH: the new leader, if known. */
  currentLeader: LeaderIdAndEpoch | null;
}

export interface ProduceTopicResponse {
  name: string;
  partitionResponses: ProducePartitionResponse[];
}

export interface ProduceNodeEndpoint {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

export interface ProduceResponse {
  responses: ProduceTopicResponse[];
  throttleTimeMs: number;
  /** v10+: endpoints of the leaders named in `currentLeader`; empty when none. */
  nodeEndpoints: ProduceNodeEndpoint[];
}

const FLEXIBLE_FROM = 9;
const CURRENT_LEADER_TAG = 0;
const NODE_ENDPOINTS_TAG = 0;

export const Produce: ApiDescriptor<ProduceRequest, ProduceResponse, Buffer[]> = {
  apiKey: ApiKey.Produce,
  minVersion: 3,
  maxVersion: 11,
  flexibleFrom: FLEXIBLE_FROM,
  responseHeaderV0: false,

  encode(version, req) {
    checkVersion(Produce, version);
    // Held batches become Buffers here: a caller of encode() gets bytes only.
    return encodeChunks(version, req, false) as Buffer[];
  },

  decode(version, r) {
    r.context = `Produce v${version}`;
    const flexible = version >= FLEXIBLE_FROM;
    const str = flexible ? (f: string) => r.compactString(f) : (f: string) => r.string(f);
    const nullableStr = flexible ? (f: string) => r.compactNullableString(f) : (f: string) => r.nullableString(f);
    const arr = <T>(field: string, each: (r: Reader) => T): T[] =>
      flexible ? r.compactArray(each, field) : r.array(each, field);

    const responses = arr('responses', (): ProduceTopicResponse => {
      const name = str('topic name');
      const partitionResponses = arr('partition_responses', (): ProducePartitionResponse => {
        const p: ProducePartitionResponse = {
          index: r.int32(),
          errorCode: r.int16(),
          baseOffset: r.int64(),
          logAppendTimeMs: r.int64(),
          logStartOffset: version >= 5 ? r.int64() : -1n,
          recordErrors:
            version >= 8
              ? arr('record_errors', (): ProduceRecordError => {
                  const e = { batchIndex: r.int32(), batchIndexErrorMessage: nullableStr('batch_index_error_message') };
                  if (flexible) r.skipTaggedFields();
                  return e;
                })
              : [],
          errorMessage: version >= 8 ? nullableStr('error_message') : null,
          currentLeader: null,
        };
        if (flexible) {
          r.taggedFields((tag, tr) => {
            if (version < 10 || tag !== CURRENT_LEADER_TAG) return false;
            p.currentLeader = { leaderId: tr.int32(), leaderEpoch: tr.int32() };
            tr.skipTaggedFields();
            return true;
          });
        }
        return p;
      });
      if (flexible) r.skipTaggedFields();
      return { name, partitionResponses };
    });
    const throttleTimeMs = r.int32();
    let nodeEndpoints: ProduceNodeEndpoint[] = [];
    if (flexible) {
      r.taggedFields((tag, tr) => {
        if (version < 10 || tag !== NODE_ENDPOINTS_TAG) return false;
        nodeEndpoints = tr.compactArray((er): ProduceNodeEndpoint => {
          const e = {
            nodeId: er.int32(),
            host: er.compactString('host'),
            port: er.int32(),
            rack: er.compactNullableString('rack'),
          };
          er.skipTaggedFields();
          return e;
        }, 'node_endpoints');
        return true;
      });
    }
    return { responses, throttleTimeMs, nodeEndpoints };
  },
};

/**
 * The ProduceRequest as Produce.encode() writes it, but with held batches (HeldRecords) left as
 * chunks of their own, for a connection that writes them from native memory (the io_uring
 * transport) or asks for their bytes itself. `descriptor` is Produce or ProduceTxnV2.
 */
export function encodeProduceChunks(
  descriptor: ApiDescriptor<ProduceRequest, ProduceResponse, Buffer[]>,
  version: number,
  req: ProduceRequest,
): RequestChunk[] {
  checkVersion(descriptor, version);
  return encodeChunks(Math.min(version, 11), req, true);
}

function encodeChunks(version: number, req: ProduceRequest, keepHeld: boolean): RequestChunk[] {
  const flexible = version >= FLEXIBLE_FROM;
  // All framing goes into one writer; `cuts` remembers where each partition's batches go, so
  // one allocation holds every framing chunk and the batches are referenced, not copied.
  const w = new Writer(64 + req.topicData.length * 64);
  const cuts: number[] = [];
  const batches: (Buffer | HeldRecords | readonly Buffer[])[] = [];
  if (flexible) w.compactString(req.transactionalId);
  else w.string(req.transactionalId);
  w.int16(req.acks).int32(req.timeoutMs);
  const topics = req.topicData;
  if (flexible) w.uvarint(topics.length + 1);
  else w.int32(topics.length);
  for (const t of topics) {
    if (flexible) w.compactString(t.name).uvarint(t.partitionData.length + 1);
    else w.string(t.name).int32(t.partitionData.length);
    for (const p of t.partitionData) {
      w.int32(p.index);
      const size = recordsSize(p.records);
      if (flexible) w.uvarint(size + 1);
      else w.int32(size);
      cuts.push(w.length);
      batches.push(p.records);
      if (flexible) w.emptyTaggedFields();
    }
    if (flexible) w.emptyTaggedFields();
  }
  if (flexible) w.emptyTaggedFields();

  const framing = w.finish();
  const chunks: RequestChunk[] = [];
  let from = 0;
  for (let i = 0; i < cuts.length; i++) {
    if (cuts[i] > from) chunks.push(framing.subarray(from, cuts[i]));
    from = cuts[i];
    const records = batches[i]!;
    if (Buffer.isBuffer(records)) {
      if (records.length > 0) chunks.push(records);
    } else if (isHeldRecords(records)) {
      if (records.length > 0) chunks.push(keepHeld ? records : records.toBuffer());
    } else {
      for (const b of records) if (b.length > 0) chunks.push(b);
    }
  }
  if (framing.length > from) chunks.push(framing.subarray(from));
  return chunks;
}

function recordsSize(records: Buffer | HeldRecords | readonly Buffer[]): number {
  if (Buffer.isBuffer(records) || isHeldRecords(records)) return records.length;
  let n = 0;
  for (const b of records) n += b.length;
  return n;
}

/** Produce up to v12, for a transactional producer using transactions V2: the same bytes as
 * v11, under the version number that makes the leader add the partition to the transaction. */
export const ProduceTxnV2: ApiDescriptor<ProduceRequest, ProduceResponse, Buffer[]> = {
  ...Produce,
  maxVersion: 12,
  encode(version, req) {
    checkVersion(ProduceTxnV2, version);
    return Produce.encode(Math.min(version, 11), req);
  },
  decode(version, r) {
    return Produce.decode(Math.min(version, 11), r);
  },
};
