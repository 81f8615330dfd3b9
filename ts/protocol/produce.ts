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

import { Buffer } from 'node:buffer';
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
    // Straight-line: no closure per array or item (this runs once per response of every
    // produce request, on the awaited send's path).
    r.context = DECODE_CONTEXTS[version] ?? `Produce v${version}`;
    const flexible = version >= FLEXIBLE_FROM;
    const topicCount = flexible ? r.compactArrayCount('responses') : r.arrayCount('responses');
    const responses = new Array<ProduceTopicResponse>(topicCount);
    for (let t = 0; t < topicCount; t++) {
      const name = topicName(r, flexible);
      const count = flexible ? r.compactArrayCount('partition_responses') : r.arrayCount('partition_responses');
      const partitionResponses = new Array<ProducePartitionResponse>(count);
      for (let i = 0; i < count; i++) {
        const index = r.int32();
        const errorCode = r.int16();
        const baseOffset = r.int64();
        const logAppendTimeMs = smallInt64(r);
        const logStartOffset = version >= 5 ? smallInt64(r) : -1n;
        let recordErrors: ProduceRecordError[];
        let errorMessage: string | null = null;
        if (version >= 8) {
          const errors = flexible ? r.compactArrayCount('record_errors') : r.arrayCount('record_errors');
          if (errors > 0) {
            recordErrors = new Array<ProduceRecordError>(errors);
            for (let e = 0; e < errors; e++) {
              const batchIndex = r.int32();
              const batchIndexErrorMessage = flexible
                ? r.compactNullableString('batch_index_error_message')
                : r.nullableString('batch_index_error_message');
              if (flexible) r.skipTaggedFields();
              recordErrors[e] = { batchIndex, batchIndexErrorMessage };
            }
          } else {
            recordErrors = [];
          }
          errorMessage = flexible ? r.compactNullableString('error_message') : r.nullableString('error_message');
        } else {
          recordErrors = [];
        }
        const p: ProducePartitionResponse = {
          index,
          errorCode,
          baseOffset,
          logAppendTimeMs,
          logStartOffset,
          recordErrors,
          errorMessage,
          currentLeader: null,
        };
        if (flexible) {
          if (version >= 10) readPartitionTags(r, p);
          else r.skipTaggedFields();
        }
        partitionResponses[i] = p;
      }
      if (flexible) r.skipTaggedFields();
      responses[t] = { name, partitionResponses };
    }
    const throttleTimeMs = r.int32();
    let nodeEndpoints: ProduceNodeEndpoint[] = [];
    if (flexible) {
      if (version >= 10 && r.remaining > 0 && r.buf[r.offset] !== 0) nodeEndpoints = readNodeEndpoints(r);
      else r.skipTaggedFields();
    }
    return { responses, throttleTimeMs, nodeEndpoints };
  },
};

const DECODE_CONTEXTS: readonly string[] = Array.from({ length: 13 }, (_, v) => `Produce v${v}`);

/** An int64 that is usually -1 or 0 (logAppendTime without LogAppendTime, a log start offset
 * of a fresh log): those come back as the shared bigints, not as a new one each. */
function smallInt64(r: Reader): bigint {
  const buf = r.buf;
  const at = r.offset;
  if (at + 8 <= buf.length) {
    const hi = buf.readInt32BE(at);
    const lo = buf.readInt32BE(at + 4);
    if (hi === -1 && lo === -1) {
      r.offset = at + 8;
      return -1n;
    }
    if (hi === 0 && lo === 0) {
      r.offset = at + 8;
      return 0n;
    }
  }
  return r.int64();
}

/** The last topic name decoded, with its bytes: a producer's responses name the same few
 * topics again and again, and comparing ~20 bytes costs less than decoding them. */
let lastNameBytes: Buffer = Buffer.alloc(0);
let lastName = '';

function topicName(r: Reader, flexible: boolean): string {
  const buf = r.buf;
  const at = r.offset;
  // Only the common shapes are looked up: a one-byte compact length, or an int16 length.
  let len = -1;
  let from = 0;
  if (flexible) {
    if (at < buf.length && buf[at]! > 1 && buf[at]! < 0x80) {
      len = buf[at]! - 1;
      from = at + 1;
    }
  } else if (at + 2 <= buf.length) {
    len = buf.readInt16BE(at);
    from = at + 2;
  }
  if (len > 0 && len === lastNameBytes.length && from + len <= buf.length) {
    let same = true;
    for (let i = 0; i < len; i++) {
      if (buf[from + i] !== lastNameBytes[i]) {
        same = false;
        break;
      }
    }
    if (same) {
      r.offset = from + len;
      return lastName;
    }
  }
  const name = flexible ? r.compactString('topic name') : r.string('topic name');
  if (len > 0 && len <= 255 && r.offset === from + len) {
    lastNameBytes = Buffer.from(buf.subarray(from, from + len));
    lastName = name;
  }
  return name;
}

/** A partition response's tagged fields (v10+): currentLeader is tag 0. */
function readPartitionTags(r: Reader, p: ProducePartitionResponse): void {
  if (r.remaining > 0 && r.buf[r.offset] === 0) {
    r.offset++;
    return;
  }
  r.taggedFields((tag, tr) => {
    if (tag !== CURRENT_LEADER_TAG) return false;
    p.currentLeader = { leaderId: tr.int32(), leaderEpoch: tr.int32() };
    tr.skipTaggedFields();
    return true;
  });
}

/** The response's tagged fields (v10+): nodeEndpoints is tag 0. */
function readNodeEndpoints(r: Reader): ProduceNodeEndpoint[] {
  let nodeEndpoints: ProduceNodeEndpoint[] = [];
  r.taggedFields((tag, tr) => {
    if (tag !== NODE_ENDPOINTS_TAG) return false;
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
  return nodeEndpoints;
}

/** The encoder's writer, reused by every call (encode is synchronous and finish() copies). */
const ENCODER = new Writer(1024);
/** Requests whose batches add up to at most this many bytes are encoded as one Buffer. */
const INLINE_BELOW = 2048;

/** A topic name's UTF-8 bytes, kept for the names a producer keeps sending to. */
const NAME_BYTES = new Map<string, Buffer>();
function nameBytes(name: string): Buffer {
  let b = NAME_BYTES.get(name);
  if (b === undefined) {
    b = Buffer.from(name, 'utf8');
    if (b.length > 0x7fff) throw new RangeError(`string of ${b.length} bytes does not fit an int16 length`);
    if (NAME_BYTES.size >= 1024) NAME_BYTES.clear();
    NAME_BYTES.set(name, b);
  }
  return b;
}

/** Whether `req`'s batches are all Buffers adding up to at most INLINE_BELOW bytes. */
function inlineable(req: ProduceRequest): boolean {
  let n = 0;
  for (const t of req.topicData) {
    for (const p of t.partitionData) {
      if (isHeldRecords(p.records)) return false;
      n += recordsSize(p.records);
      if (n > INLINE_BELOW) return false;
    }
  }
  return true;
}

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
  // All framing goes into one writer (shared by every call: finish() copies out); `cuts`
  // remembers where each partition's batches go, so one allocation holds every framing chunk
  // and the batches are referenced, not copied. A small request is the exception: its
  // batches are copied into the framing and it comes back as one Buffer (fewer objects and
  // socket writes for an awaited send's request). Held batches are 4 KiB or more, so a small
  // request never holds one.
  const w = ENCODER.reset();
  const inline = inlineable(req);
  const cuts: number[] = [];
  const batches: (Buffer | HeldRecords | readonly Buffer[])[] = [];
  if (flexible) w.compactString(req.transactionalId);
  else w.string(req.transactionalId);
  w.int16(req.acks).int32(req.timeoutMs);
  const topics = req.topicData;
  if (flexible) w.uvarint(topics.length + 1);
  else w.int32(topics.length);
  for (const t of topics) {
    const name = nameBytes(t.name);
    if (flexible) w.uvarint(name.length + 1).raw(name).uvarint(t.partitionData.length + 1);
    else w.int16(name.length).raw(name).int32(t.partitionData.length);
    for (const p of t.partitionData) {
      w.int32(p.index);
      const size = recordsSize(p.records);
      if (flexible) w.uvarint(size + 1);
      else w.int32(size);
      if (inline) {
        if (Buffer.isBuffer(p.records)) w.raw(p.records);
        else for (const b of p.records as readonly Buffer[]) w.raw(b);
      } else {
        cuts.push(w.length);
        batches.push(p.records);
      }
      if (flexible) w.emptyTaggedFields();
    }
    if (flexible) w.emptyTaggedFields();
  }
  if (flexible) w.emptyTaggedFields();

  const framing = w.finish();
  if (inline) return [framing];
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
