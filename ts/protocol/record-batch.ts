/**
 * Record batch v2 (magic 2): the on-disk and on-wire format of records since Kafka 0.11.
 *
 *   RecordBatch =>
 *     baseOffset: int64            offset of the first record (the producer sends 0; the broker assigns)
 *     batchLength: int32           bytes from partitionLeaderEpoch to the end of the batch
 *     partitionLeaderEpoch: int32  set by the broker; producers send -1
 *     magic: int8                  2
 *     crc: uint32                  CRC32C (Castagnoli) of every byte from attributes to the end
 *     attributes: int16            bit 0-2 compression codec (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd)
 *                                  bit 3 timestamp type (0 create time, 1 log append time)
 *                                  bit 4 isTransactional, bit 5 isControlBatch
 *                                  bit 6 hasDeleteHorizonMs (set by the broker's cleaner), rest unused
 *     lastOffsetDelta: int32       offset delta of the last record
 *     baseTimestamp: int64         timestamp of the first record
 *     maxTimestamp: int64          largest timestamp in the batch
 *     producerId: int64            -1 when not idempotent
 *     producerEpoch: int16         -1 when not idempotent
 *     baseSequence: int32          sequence of the first record, -1 when not idempotent
 *     recordCount: int32           number of records (the records part is compressed as a whole
 *                                  when a codec is set; this count and the header are not)
 *     records: [Record]
 *
 *   Record =>
 *     length: varint               bytes of the record after this field
 *     attributes: int8             unused, 0
 *     timestampDelta: varlong      timestamp - baseTimestamp
 *     offsetDelta: varint          offset - baseOffset
 *     keyLength: varint            -1 for a null key
 *     key: byte[keyLength]
 *     valueLength: varint          -1 for a null value
 *     value: byte[valueLength]
 *     headersCount: varint
 *     headers: [Header]
 *
 *   Header =>
 *     headerKeyLength: varint
 *     headerKey: byte[headerKeyLength]  UTF-8
 *     headerValueLength: varint    -1 for a null value
 *     headerValue: byte[headerValueLength]
 *
 * varint / varlong are zig-zag encoded (see writer.ts). All fixed-width integers are big-endian.
 */

import { Buffer } from 'node:buffer';
import { CodecId, type BatchHeaderInput, type RecordHeaderInput, type RecordInput } from '../backend/types.js';
import { crc32c } from './crc32c.js';
import { CODEC_UNAVAILABLE, codecFor } from '../compression/index.js';
import { ProtocolDecodeError } from '../errors.js';
import { Reader } from './reader.js';
import { sizeOfVarint, sizeOfVarlong, Writer } from './writer.js';

/** Size of the fixed v2 batch header, baseOffset through recordCount. */
export const RECORD_BATCH_OVERHEAD = 61;

// Byte offsets of the header fields.
const BATCH_LENGTH_OFFSET = 8;
const PARTITION_LEADER_EPOCH_OFFSET = 12;
const MAGIC_OFFSET = 16;
const CRC_OFFSET = 17;
const ATTRIBUTES_OFFSET = 21;
const LAST_OFFSET_DELTA_OFFSET = 23;
const BASE_TIMESTAMP_OFFSET = 27;
const MAX_TIMESTAMP_OFFSET = 35;
const PRODUCER_ID_OFFSET = 43;
const PRODUCER_EPOCH_OFFSET = 51;
const BASE_SEQUENCE_OFFSET = 53;
const RECORD_COUNT_OFFSET = 57;
/** batchLength counts the bytes after itself. */
const LOG_OVERHEAD = 12;

const CODEC_MASK = 0x07;
const TIMESTAMP_TYPE_LOG_APPEND = 0x08;
const TRANSACTIONAL_FLAG = 0x10;

const TWO_POW_32 = 0x1_0000_0000;

const NO_HEADERS: readonly RecordHeaderInput[] = [];
const NO_LENGTHS: number[] = [];

/** Bytes a length-prefixed field (key, value, header value) takes: varint length + data, or
 * varint -1 (one byte) for null. */
function sizeOfField(len: number): number {
  return len < 0 ? 1 : sizeOfVarint(len) + len;
}

/**
 * A conservative upper bound of the encoded size of one record, its length varint included,
 * for batch.size decisions before the offset and timestamp deltas are known: the deltas are
 * counted at their largest possible size. `keyLen` / `valueLen` are -1 for null.
 */
export function recordSizeUpperBound(
  keyLen: number,
  valueLen: number,
  headers: readonly RecordHeaderInput[] | null,
): number {
  // attributes (1) + timestampDelta (varlong, at most 10) + offsetDelta (varint, at most 5)
  let body = 1 + 10 + 5 + sizeOfField(keyLen) + sizeOfField(valueLen);
  const hs = headers ?? NO_HEADERS;
  body += sizeOfVarint(hs.length);
  for (let i = 0; i < hs.length; i++) {
    const h = hs[i];
    body += sizeOfField(Buffer.byteLength(h.key, 'utf8')) + sizeOfField(h.value === null ? -1 : h.value.length);
  }
  return sizeOfVarint(body) + body;
}

/**
 * Writes one record at the writer's position: its length varint, then the record body.
 * The body size is computed first because the length prefix is a varint and cannot be
 * patched in place afterwards.
 */
export function encodeRecord(w: Writer, r: RecordInput, offsetDelta: number, timestampDelta: number): void {
  const keyLen = r.key === null ? -1 : r.key.length;
  const valueLen = r.value === null ? -1 : r.value.length;
  const headers = r.headers ?? NO_HEADERS;
  const headerCount = headers.length;

  let size =
    1 + sizeOfVarlong(timestampDelta) + sizeOfVarint(offsetDelta) + sizeOfField(keyLen) + sizeOfField(valueLen);
  size += sizeOfVarint(headerCount);
  // Header keys are strings: their UTF-8 length is needed twice (size, then prefix), so keep it.
  const headerKeyLens = headerCount === 0 ? NO_LENGTHS : new Array<number>(headerCount);
  for (let i = 0; i < headerCount; i++) {
    const h = headers[i];
    const kl = Buffer.byteLength(h.key, 'utf8');
    headerKeyLens[i] = kl;
    size += sizeOfField(kl) + sizeOfField(h.value === null ? -1 : h.value.length);
  }

  w.varint(size);
  w.int8(0);
  w.varlong(timestampDelta);
  w.varint(offsetDelta);
  w.varint(keyLen);
  if (r.key !== null) w.raw(r.key);
  w.varint(valueLen);
  if (r.value !== null) w.raw(r.value);
  w.varint(headerCount);
  for (let i = 0; i < headerCount; i++) {
    const h = headers[i];
    const kl = headerKeyLens[i];
    w.varint(kl);
    w.utf8(h.key, kl);
    if (h.value === null) {
      w.varint(-1);
    } else {
      w.varint(h.value.length);
      w.raw(h.value);
    }
  }
}

export interface BatchHeaderFields {
  baseOffset: bigint | number;
  partitionLeaderEpoch: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

function writeInt64Number(out: Buffer, v: number, at: number): void {
  const hi = Math.floor(v / TWO_POW_32);
  out.writeInt32BE(hi, at);
  out.writeUInt32BE(v - hi * TWO_POW_32, at + 4);
}

/**
 * Fills the first 61 bytes of `out` (the batch header) given that the `recordsLen` bytes of
 * records (compressed or not) are already at out[61..], then computes the CRC32C over
 * attributes..end and writes it. Filling the header last lets an encoder write records
 * straight into the final buffer before it knows their count, size and timestamps.
 */
export function writeBatchHeader(
  out: Buffer,
  recordsLen: number,
  h: BatchHeaderFields,
  crc: (b: Uint8Array, init?: number) => number,
): void {
  if (out.length !== RECORD_BATCH_OVERHEAD + recordsLen) {
    throw new RangeError(
      `writeBatchHeader: buffer is ${out.length} bytes, expected ${RECORD_BATCH_OVERHEAD} + ${recordsLen}`,
    );
  }
  if (typeof h.baseOffset === 'bigint') out.writeBigInt64BE(h.baseOffset, 0);
  else writeInt64Number(out, h.baseOffset, 0);
  out.writeInt32BE(out.length - LOG_OVERHEAD, BATCH_LENGTH_OFFSET);
  out.writeInt32BE(h.partitionLeaderEpoch, PARTITION_LEADER_EPOCH_OFFSET);
  out.writeInt8(2, MAGIC_OFFSET);
  out.writeInt16BE(h.attributes, ATTRIBUTES_OFFSET);
  out.writeInt32BE(h.lastOffsetDelta, LAST_OFFSET_DELTA_OFFSET);
  writeInt64Number(out, h.baseTimestamp, BASE_TIMESTAMP_OFFSET);
  writeInt64Number(out, h.maxTimestamp, MAX_TIMESTAMP_OFFSET);
  out.writeBigInt64BE(h.producerId, PRODUCER_ID_OFFSET);
  out.writeInt16BE(h.producerEpoch, PRODUCER_EPOCH_OFFSET);
  out.writeInt32BE(h.baseSequence, BASE_SEQUENCE_OFFSET);
  out.writeInt32BE(h.recordCount, RECORD_COUNT_OFFSET);
  out.writeUInt32BE(crc(out.subarray(ATTRIBUTES_OFFSET)), CRC_OFFSET);
}

/** Reused by encodeRecordBatch: finish() copies out, so one scratch writer serves every call. */
const scratch = new Writer(16 * 1024);

/**
 * Encodes a whole batch: baseOffset 0, partitionLeaderEpoch -1, offset deltas 0..n-1,
 * baseTimestamp = the first record's timestamp, maxTimestamp = the largest.
 * Only CodecId.None is implemented here; compression is added by the backends.
 */
export function encodeRecordBatch(
  records: readonly RecordInput[],
  header: BatchHeaderInput,
  crc: (b: Uint8Array, init?: number) => number = crc32c,
): Buffer {
  if (records.length === 0) throw new RangeError('encodeRecordBatch: a record batch needs at least one record');
  const baseTimestamp = records[0].timestamp;
  let maxTimestamp = baseTimestamp;
  const w = scratch.reset();
  w.reserve(RECORD_BATCH_OVERHEAD);
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    if (r.timestamp > maxTimestamp) maxTimestamp = r.timestamp;
    encodeRecord(w, r, i, r.timestamp - baseTimestamp);
  }
  return sealBatch(
    w.finish(),
    {
      lastOffsetDelta: records.length - 1,
      baseTimestamp,
      maxTimestamp,
      producerId: header.producerId,
      producerEpoch: header.producerEpoch,
      baseSequence: header.baseSequence,
      recordCount: records.length,
      transactional: header.transactional,
    },
    header.codec,
    header.compressionLevel,
    crc,
  );
}

/** The header fields sealBatch() is given: the rest are fixed for a producer (base offset 0,
 * partition leader epoch -1) or decided by sealBatch itself (attributes). */
export type SealFields = Omit<BatchHeaderFields, 'baseOffset' | 'partitionLeaderEpoch' | 'attributes'> & {
  transactional: boolean;
};

/**
 * Turns `buf` — RECORD_BATCH_OVERHEAD free bytes, then the encoded records — into a finished
 * batch: compresses the records with `codec` when that makes them smaller (otherwise the
 * batch goes uncompressed, codec bits 0, as the Java client does), then writes the header
 * and the CRC32C over the final bytes. Returns `buf` itself when uncompressed, else a new
 * buffer. Both the one-shot encoder and the fallback accumulator finish batches here.
 */
export function sealBatch(
  buf: Buffer,
  f: SealFields,
  codec: CodecId,
  level: number | undefined,
  crc: (b: Uint8Array, init?: number) => number = crc32c,
): Buffer {
  let out = buf;
  let used = CodecId.None;
  if (codec !== CodecId.None) {
    const compressed = codecFor(codec).compress(buf.subarray(RECORD_BATCH_OVERHEAD), level);
    if (compressed.length < buf.length - RECORD_BATCH_OVERHEAD) {
      out = Buffer.allocUnsafe(RECORD_BATCH_OVERHEAD + compressed.length);
      compressed.copy(out, RECORD_BATCH_OVERHEAD);
      used = codec;
    }
  }
  writeBatchHeader(
    out,
    out.length - RECORD_BATCH_OVERHEAD,
    {
      baseOffset: 0,
      partitionLeaderEpoch: -1,
      attributes: used | (f.transactional ? TRANSACTIONAL_FLAG : 0),
      lastOffsetDelta: f.lastOffsetDelta,
      baseTimestamp: f.baseTimestamp,
      maxTimestamp: f.maxTimestamp,
      producerId: f.producerId,
      producerEpoch: f.producerEpoch,
      baseSequence: f.baseSequence,
      recordCount: f.recordCount,
    },
    crc,
  );
  return out;
}

export interface DecodedRecord {
  offset: bigint;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: { key: string; value: Buffer | null }[];
}

export interface DecodedBatch {
  baseOffset: bigint;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  crcValid: boolean;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  records: DecodedRecord[];
}

/** The fewest bytes a record takes: its length varint and six one-byte fields (attributes,
 * timestamp delta, offset delta, key length, value length, header count). */
const MIN_RECORD_BYTES = 7;
/** The fewest bytes a record header takes: key length and value length. */
const MIN_HEADER_BYTES = 2;

function readLengthPrefixed(r: Reader, what: string): Buffer | null {
  const at = r.offset;
  const len = r.varint();
  if (len === -1) return null;
  if (len < 0) r.fail(`Invalid ${what} length ${len} at offset ${at}`, at);
  return r.raw(len, what);
}

function decodeRecord(body: Reader, baseOffset: bigint, baseTimestamp: number, logAppendTime: number | null): DecodedRecord {
  const at = body.offset;
  const length = body.varint();
  if (length < 0 || length > body.remaining) {
    body.fail(`Invalid record length ${length} at offset ${at} (${body.remaining} bytes left)`, at);
  }
  const end = body.offset + length;
  // The record's fields are read within its declared length, so a corrupt one fails here
  // instead of reading into the next record.
  const r: Reader = new Reader(body.buf.subarray(0, end), body.offset, body.context);
  r.int8(); // attributes: unused
  const timestampDelta = r.varlong();
  const offsetDelta = r.varint();
  const key = readLengthPrefixed(r, 'key');
  const value = readLengthPrefixed(r, 'value');
  const countAt = r.offset;
  const headerCount = r.varint();
  if (headerCount < 0) r.fail(`Invalid header count ${headerCount} at offset ${countAt}`, countAt);
  if (headerCount * MIN_HEADER_BYTES > r.remaining) {
    r.fail(`header count ${headerCount} at offset ${countAt} exceeds the ${r.remaining} bytes left in the record`, countAt);
  }
  const headers: { key: string; value: Buffer | null }[] = [];
  for (let i = 0; i < headerCount; i++) {
    const keyAt = r.offset;
    const k = readLengthPrefixed(r, 'header key');
    if (k === null) r.fail(`Null header key at offset ${keyAt}`, keyAt);
    headers.push({ key: k.toString('utf8'), value: readLengthPrefixed(r, 'header value') });
  }
  if (r.offset !== end) {
    r.fail(`Record at offset ${at} declared ${length} bytes but its fields took ${length - (end - r.offset)}`, at);
  }
  body.offset = end;
  return {
    offset: baseOffset + BigInt(offsetDelta),
    // With log-append time every record's timestamp is the batch's maxTimestamp.
    timestamp: logAppendTime ?? baseTimestamp + timestampDelta,
    key,
    value,
    headers,
  };
}

/** The records of a compressed batch, decompressed; a codec's complaint about the bytes
 * becomes a ProtocolDecodeError (a missing codec package stays what it is: not a decode error). */
function decompressRecords(r: Reader, codec: CodecId, data: Buffer, batchAt: number): Buffer {
  if (codec > CodecId.Zstd) {
    r.fail(`Record batch at offset ${batchAt} has unknown compression codec ${codec} (attributes bits 0..2)`, batchAt + ATTRIBUTES_OFFSET);
  }
  const c = codecFor(codec);
  try {
    return c.decompress(data);
  } catch (e) {
    if ((e as { code?: unknown }).code === CODEC_UNAVAILABLE) throw e;
    throw new ProtocolDecodeError(
      `Record batch at offset ${batchAt}: its ${c.name} records do not decompress: ${e instanceof Error ? e.message : String(e)}`,
      { context: r.context, offset: batchAt + RECORD_BATCH_OVERHEAD, cause: e },
    );
  }
}

/**
 * Decodes every record batch in `buf`, compressed ones included (zstd needs initCodecs()
 * first). Independent of the encoder: it is what the tests and fake brokers check encoded
 * bytes against. Keys, values and header values are views of `buf` (or of the decompressed
 * records). Throws ProtocolDecodeError (context 'record batch') on truncated or corrupt
 * input, a magic other than 2, an unknown codec or records that do not decompress; a CRC
 * mismatch is reported in `crcValid`, not thrown.
 */
export function decodeRecordBatches(
  buf: Buffer,
  crc: (b: Uint8Array, init?: number) => number = crc32c,
): DecodedBatch[] {
  const batches: DecodedBatch[] = [];
  const r: Reader = new Reader(buf, 0, 'record batch');
  while (r.remaining > 0) {
    const start = r.offset;
    const baseOffset = r.int64();
    const batchLength = r.int32();
    if (batchLength < RECORD_BATCH_OVERHEAD - LOG_OVERHEAD || batchLength > r.remaining) {
      r.fail(`Invalid or truncated record batch at offset ${start}: batchLength ${batchLength}, ${r.remaining} bytes left`, start);
    }
    const end = r.offset + batchLength;
    const partitionLeaderEpoch = r.int32();
    const magic = r.int8();
    if (magic !== 2) r.fail(`Record batch at offset ${start} has magic ${magic}; only magic 2 is supported`, start + MAGIC_OFFSET);
    const storedCrc = r.uint32();
    const crcValid = crc(buf.subarray(start + ATTRIBUTES_OFFSET, end)) === storedCrc;
    const attributes = r.int16();
    const lastOffsetDelta = r.int32();
    const baseTimestamp = r.int64n();
    const maxTimestamp = r.int64n();
    const producerId = r.int64();
    const producerEpoch = r.int16();
    const baseSequence = r.int32();
    const countAt = r.offset;
    const recordCount = r.int32();
    const codec = (attributes & CODEC_MASK) as CodecId;
    // A compressed batch's records are one compressed blob; an uncompressed batch's records are
    // read in place, up to the batch's end.
    const body =
      codec === CodecId.None
        ? new Reader(buf.subarray(0, end), r.offset, r.context)
        : new Reader(decompressRecords(r, codec, buf.subarray(r.offset, end), start), 0, r.context);
    if (recordCount < 0) r.fail(`Record batch at offset ${start} has a negative record count ${recordCount}`, countAt);
    if (recordCount * MIN_RECORD_BYTES > body.remaining) {
      r.fail(
        `Record batch at offset ${start}: record count ${recordCount} exceeds what its ${body.remaining} bytes of records can hold`,
        countAt,
      );
    }
    const logAppendTime = attributes & TIMESTAMP_TYPE_LOG_APPEND ? maxTimestamp : null;
    const records = new Array<DecodedRecord>(recordCount);
    for (let i = 0; i < recordCount; i++) records[i] = decodeRecord(body, baseOffset, baseTimestamp, logAppendTime);
    if (body.remaining !== 0) {
      r.fail(`Record batch at offset ${start} has ${body.remaining} bytes after its ${recordCount} records`, start);
    }
    r.offset = end;
    batches.push({
      baseOffset,
      partitionLeaderEpoch,
      magic,
      crc: storedCrc,
      crcValid,
      attributes,
      lastOffsetDelta,
      baseTimestamp,
      maxTimestamp,
      producerId,
      producerEpoch,
      baseSequence,
      records,
    });
  }
  return batches;
}

/**
 * Rewrites the producer id, epoch and base sequence of one encoded record batch v2 in place
 * and recomputes its CRC32C (which covers attributes..end, so these fields). The idempotent
 * producer needs this when an epoch bump gives a batch that was already encoded new
 * sequences (KIP-360); it is per batch, never per record. `crc` is the running backend's.
 */
export function restampProducerState(
  batch: Buffer,
  producerId: bigint,
  producerEpoch: number,
  baseSequence: number,
  crc: (b: Uint8Array, init?: number) => number = crc32c,
): void {
  if (batch.length < RECORD_BATCH_OVERHEAD || batch[MAGIC_OFFSET] !== 2) {
    throw new Error(`restampProducerState: not a record batch v2 (${batch.length} bytes)`);
  }
  batch.writeBigInt64BE(producerId, PRODUCER_ID_OFFSET);
  batch.writeInt16BE(producerEpoch, PRODUCER_EPOCH_OFFSET);
  batch.writeInt32BE(baseSequence, BASE_SEQUENCE_OFFSET);
  batch.writeUInt32BE(crc(batch.subarray(ATTRIBUTES_OFFSET)) >>> 0, CRC_OFFSET);
}
