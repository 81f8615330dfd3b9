/**
 * A growable big-endian byte writer for Kafka's wire primitives.
 *
 * One Writer owns one Buffer that it reuses across messages: `reset()` rewinds it, and it only
 * grows (by doubling) when a message does not fit. That keeps encoding allocation-free in the
 * steady state; `finish()` then hands out an exact-size copy so the writer can be reset and
 * reused at once without the caller's bytes being overwritten.
 *
 * Varints follow Kafka (and protobuf): unsigned LEB128 for `uvarint`, zig-zag on top of it for
 * `varint` (32-bit) and `varlong` (64-bit). `varlong` takes a plain number: record timestamps
 * and deltas fit 2^53, and staying off BigInt keeps the per-record path fast.
 */

import { Buffer } from 'node:buffer';

const TWO_POW_32 = 0x1_0000_0000;

/** Bytes `uvarint(v)` takes, for an unsigned 32-bit `v`. */
export function sizeOfUvarint(v: number): number {
  v >>>= 0;
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x20_0000) return 3;
  if (v < 0x1000_0000) return 4;
  return 5;
}

/** Bytes `varint(v)` (zig-zag) takes, for a signed 32-bit `v`. */
export function sizeOfVarint(v: number): number {
  return sizeOfUvarint((v << 1) ^ (v >> 31));
}

/** Bytes `varlong(v)` (zig-zag 64) takes, for a safe integer `v`. */
export function sizeOfVarlong(v: number): number {
  // zig-zag maps v >= 0 to 2v and v < 0 to 2(-v - 1) + 1; the size depends on the magnitude only.
  let a = v >= 0 ? v : -v - 1;
  let size = 1;
  // The first byte holds 6 bits of the magnitude (the 7th is the sign bit), later bytes 7 each.
  a = Math.floor(a / 64);
  while (a > 0) {
    size++;
    a = Math.floor(a / 128);
  }
  return size;
}

const EMPTY = Buffer.alloc(0);

export class Writer {
  private buf: Buffer;
  private pos = 0;

  constructor(initialCapacity = 1024) {
    this.buf = Buffer.allocUnsafe(Math.max(16, initialCapacity));
  }

  /** Bytes written since the last reset(). */
  get length(): number {
    return this.pos;
  }

  /** Rewind to empty, keeping the buffer for the next message. */
  reset(): this {
    this.pos = 0;
    return this;
  }

  /** Rewind to an earlier `length`, dropping what was written after it (e.g. a record that
   * turned out not to fit its batch). */
  truncate(length: number): this {
    if (!Number.isInteger(length) || length < 0 || length > this.pos) {
      throw new RangeError(`truncate(${length}): only ${this.pos} bytes are written`);
    }
    this.pos = length;
    return this;
  }

  /**
   * The bytes written so far, as a new Buffer of exactly that length (a copy, not a view of the
   * internal buffer): the writer may be reset and reused immediately.
   */
  finish(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    return out;
  }

  /** Copies the bytes written so far into `target` at `offset` (no allocation); returns how
   * many were copied. */
  copyTo(target: Uint8Array, offset: number): number {
    target.set(this.buf.subarray(0, this.pos), offset);
    return this.pos;
  }

  /**
   * The bytes written so far as a view of the internal buffer, without copying; the writer
   * gives the buffer up and starts empty. For a writer that is used once (a batch in the
   * accumulator), this saves the copy finish() makes.
   */
  detach(): Buffer {
    const out = this.buf.subarray(0, this.pos);
    this.buf = EMPTY;
    this.pos = 0;
    return out;
  }

  private ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let cap = Math.max(64, this.buf.length * 2);
    while (cap < need) cap *= 2;
    const next = Buffer.allocUnsafe(cap);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  int8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  boolean(v: boolean): this {
    return this.int8(v ? 1 : 0);
  }

  int16(v: number): this {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }

  int32(v: number): this {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  uint32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  int64(v: bigint): this {
    this.ensure(8);
    this.buf.writeBigInt64BE(v, this.pos);
    this.pos += 8;
    return this;
  }

  /** An int64 given as a number (a safe integer, e.g. a timestamp), without going through BigInt. */
  int64n(v: number): this {
    if (!Number.isSafeInteger(v)) throw new RangeError(`int64n: ${v} is not a safe integer`);
    this.ensure(8);
    const hi = Math.floor(v / TWO_POW_32);
    this.buf.writeInt32BE(hi, this.pos);
    this.buf.writeUInt32BE(v - hi * TWO_POW_32, this.pos + 4);
    this.pos += 8;
    return this;
  }

  /** Unsigned LEB128 of an unsigned 32-bit value. */
  uvarint(v: number): this {
    v >>>= 0;
    this.ensure(5);
    const buf = this.buf;
    let p = this.pos;
    while (v >= 0x80) {
      buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[p++] = v;
    this.pos = p;
    return this;
  }

  /** Zig-zag varint of a signed 32-bit value. */
  varint(v: number): this {
    return this.uvarint((v << 1) ^ (v >> 31));
  }

  /** Zig-zag varlong of a safe integer (|v| < 2^53), computed without BigInt. */
  varlong(v: number): this {
    if (v >= -0x4000_0000 && v < 0x4000_0000) {
      // Common case (deltas, small timestamps): the zig-zag value fits 31 bits.
      return this.uvarint((v << 1) ^ (v >> 31));
    }
    if (!Number.isSafeInteger(v)) throw new RangeError(`varlong: ${v} is not a safe integer`);
    this.ensure(10);
    const buf = this.buf;
    let p = this.pos;
    // zig-zag(v) = 2a + s with a = |v| or |v| - 1 and s the sign bit. 2a + s can pass 2^53, where
    // doubles lose the low bit, so the first byte is built from a's low 6 bits plus s, and the
    // rest is floor(a / 64) (== floor((2a + s) / 128)), which stays exact.
    const negative = v < 0;
    let a = negative ? -v - 1 : v;
    buf[p++] = 0x80 | ((a & 0x3f) << 1) | (negative ? 1 : 0);
    a = Math.floor(a / 64);
    while (a >= 0x80) {
      buf[p++] = (a % 0x80) | 0x80;
      a = Math.floor(a / 0x80);
    }
    buf[p++] = a;
    this.pos = p;
    return this;
  }

  raw(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** The UTF-8 bytes of `s`, no length prefix; `byteLength` is Buffer.byteLength(s) when the
   * caller already has it. */
  utf8(s: string, byteLength = Buffer.byteLength(s, 'utf8')): this {
    this.ensure(byteLength);
    this.pos += this.buf.write(s, this.pos, byteLength, 'utf8');
    return this;
  }

  /** STRING / NULLABLE_STRING: int16 length (-1 for null), UTF-8 bytes. */
  string(s: string | null): this {
    if (s === null) return this.int16(-1);
    const len = Buffer.byteLength(s, 'utf8');
    if (len > 0x7fff) throw new RangeError(`string of ${len} bytes does not fit an int16 length`);
    this.int16(len);
    this.utf8(s, len);
    return this;
  }

  /** COMPACT_STRING / COMPACT_NULLABLE_STRING: uvarint length + 1 (0 for null), UTF-8 bytes. */
  compactString(s: string | null): this {
    if (s === null) return this.uvarint(0);
    const len = Buffer.byteLength(s, 'utf8');
    this.uvarint(len + 1);
    this.utf8(s, len);
    return this;
  }

  /** BYTES / NULLABLE_BYTES: int32 length (-1 for null), bytes. */
  bytes(b: Uint8Array | null): this {
    if (b === null) return this.int32(-1);
    this.int32(b.length);
    return this.raw(b);
  }

  /** COMPACT_BYTES / COMPACT_NULLABLE_BYTES: uvarint length + 1 (0 for null), bytes. */
  compactBytes(b: Uint8Array | null): this {
    if (b === null) return this.uvarint(0);
    this.uvarint(b.length + 1);
    return this.raw(b);
  }

  /** UUID: 16 raw bytes. */
  uuid(id: Uint8Array): this {
    if (id.length !== 16) throw new RangeError(`uuid must be 16 bytes, got ${id.length}`);
    return this.raw(id);
  }

  /** ARRAY: int32 count (-1 for null), then each item. */
  array<T>(items: readonly T[] | null, each: (w: this, item: T) => void): this {
    if (items === null) return this.int32(-1);
    this.int32(items.length);
    for (const item of items) each(this, item);
    return this;
  }

  /** COMPACT_ARRAY: uvarint count + 1 (0 for null), then each item. */
  compactArray<T>(items: readonly T[] | null, each: (w: this, item: T) => void): this {
    if (items === null) return this.uvarint(0);
    this.uvarint(items.length + 1);
    for (const item of items) each(this, item);
    return this;
  }

  /** An empty tagged-field section (flexible versions): uvarint 0. */
  emptyTaggedFields(): this {
    return this.uvarint(0);
  }

  /** Skip `n` bytes to fill in later (a length or a CRC); returns their offset. */
  reserve(n: number): number {
    this.ensure(n);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  patchInt32(offset: number, v: number): this {
    this.checkPatch(offset, 4);
    this.buf.writeInt32BE(v, offset);
    return this;
  }

  patchUint32(offset: number, v: number): this {
    this.checkPatch(offset, 4);
    this.buf.writeUInt32BE(v, offset);
    return this;
  }

  private checkPatch(offset: number, n: number): void {
    if (offset < 0 || offset + n > this.pos) {
      throw new RangeError(`patch of ${n} bytes at ${offset} is outside the ${this.pos} bytes written`);
    }
  }
}
