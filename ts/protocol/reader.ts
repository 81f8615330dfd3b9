/**
 * A big-endian reader over one Buffer, for Kafka responses and record batches.
 *
 * Every read checks bounds first and throws a ProtocolDecodeError that says what was being
 * read, where, and how many bytes were missing: a truncated or corrupt response must fail
 * loudly, never decode into garbage. Byte fields come back as views (subarray) of the input,
 * not copies.
 *
 * Nothing here trusts a count or a length from the input: an array count is checked against
 * the bytes left before anything is allocated or looped over (every item takes at least one
 * byte), a length before it is read, and a varint has at most 5 (or 10) bytes. So corrupt or
 * hostile input ends in an error after at most one pass over its bytes; it cannot allocate an
 * array of 2^31 elements or loop without end (test/unit/protocol/fuzz.test.ts checks this).
 */

import { ProtocolDecodeError } from '../errors.js';

const TWO_POW_32 = 0x1_0000_0000;

export class Reader {
  readonly buf: Buffer;
  offset: number;
  /** Which decoder reads, e.g. 'Metadata v12': appended to every error's message. Decoders set
   * it when they start; '' leaves messages bare (BrokerConnection names the API itself). */
  context: string;

  constructor(buf: Buffer, offset = 0, context = '') {
    this.buf = buf;
    this.offset = offset;
    this.context = context;
  }

  /** Throws a ProtocolDecodeError for a problem at `offset` (default: the current offset). */
  fail(problem: string, offset = this.offset): never {
    throw new ProtocolDecodeError(problem, { context: this.context, offset });
  }

  /** Bytes left after the current offset. */
  get remaining(): number {
    return this.buf.length - this.offset;
  }

  private need(n: number, what: string): void {
    if (n < 0 || this.offset + n > this.buf.length) {
      this.fail(`Truncated input reading ${what}: need ${n} byte(s) at offset ${this.offset}, ${this.remaining} left`);
    }
  }

  int8(): number {
    this.need(1, 'int8');
    return this.buf.readInt8(this.offset++);
  }

  boolean(): boolean {
    return this.int8() !== 0;
  }

  int16(): number {
    this.need(2, 'int16');
    const v = this.buf.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  int32(): number {
    this.need(4, 'int32');
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  uint32(): number {
    this.need(4, 'uint32');
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  int64(): bigint {
    this.need(8, 'int64');
    const v = this.buf.readBigInt64BE(this.offset);
    this.offset += 8;
    return v;
  }

  /** An int64 as a number (timestamps); throws when it is not a safe integer. */
  int64n(): number {
    this.need(8, 'int64');
    const hi = this.buf.readInt32BE(this.offset);
    const lo = this.buf.readUInt32BE(this.offset + 4);
    const v = hi * TWO_POW_32 + lo;
    if (!Number.isSafeInteger(v)) {
      this.fail(`int64 ${this.buf.readBigInt64BE(this.offset)} at offset ${this.offset} does not fit a safe integer`);
    }
    this.offset += 8;
    return v;
  }

  /** Unsigned LEB128 of at most 5 bytes (32 bits). */
  uvarint(): number {
    const buf = this.buf;
    let p = this.offset;
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (p >= buf.length) this.truncatedVarint('uvarint');
      const b = buf[p++];
      if (shift === 28 && b > 0x0f && b < 0x80) {
        // The fifth byte holds bits 28..31: more would be a value of 2^32 or above, which no
        // Kafka field has. Taking it modulo 2^32 would turn garbage into a plausible count.
        this.fail(`Invalid uvarint at offset ${this.offset}: its value does not fit 32 bits`);
      }
      result |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.offset = p;
        return result >>> 0;
      }
    }
    return this.fail(`Invalid uvarint at offset ${this.offset}: more than 5 bytes`);
  }

  /** Zig-zag varint (32-bit). */
  varint(): number {
    const zz = this.uvarint();
    return (zz >>> 1) ^ -(zz & 1);
  }

  /** Zig-zag varlong as a number; throws when the value is outside the safe-integer range. */
  varlong(): number {
    const buf = this.buf;
    const start = this.offset;
    let p = start;
    if (p >= buf.length) this.truncatedVarint('varlong');
    const first = buf[p++];
    const negative = (first & 1) === 1;
    // As in Writer.varlong: zig-zag(v) = 2a + s. The first byte carries s and a's low 6 bits;
    // the later bytes carry a / 64 seven bits at a time, so no step needs more than 53 bits.
    let a = (first >> 1) & 0x3f;
    if (first >= 0x80) {
      let scale = 64;
      for (let i = 1; ; i++) {
        if (i === 10) this.fail(`Invalid varlong at offset ${start}: more than 10 bytes`, start);
        if (p >= buf.length) this.truncatedVarint('varlong');
        const b = buf[p++];
        a += (b & 0x7f) * scale;
        scale *= 128;
        if (b < 0x80) break;
      }
      if (a > Number.MAX_SAFE_INTEGER) this.fail(`varlong at offset ${start} does not fit a safe integer`, start);
    }
    this.offset = p;
    return negative ? -a - 1 : a;
  }

  private truncatedVarint(what: string): never {
    return this.fail(`Truncated input reading ${what} at offset ${this.offset}: ran out of bytes`);
  }

  /** `n` raw bytes as a view of the input. */
  raw(n: number, what = `${n} raw bytes`): Buffer {
    this.need(n, what);
    const v = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  private utf8(n: number, what: string): string {
    this.need(n, what);
    const s = this.buf.toString('utf8', this.offset, this.offset + n);
    this.offset += n;
    return s;
  }

  // `field` (here and in the array readers) names the field in error messages, e.g. 'host'.

  /** NULLABLE_STRING: int16 length, -1 for null. */
  nullableString(field = 'string'): string | null {
    const at = this.offset;
    const len = this.int16();
    if (len === -1) return null;
    if (len < 0) this.fail(`Invalid ${field} length ${len} at offset ${at}`, at);
    return this.utf8(len, field);
  }

  /** STRING: like nullableString but null is an error. */
  string(field = 'string'): string {
    const at = this.offset;
    const s = this.nullableString(field);
    if (s === null) this.fail(`Unexpected null ${field} at offset ${at}`, at);
    return s;
  }

  /** COMPACT_NULLABLE_STRING: uvarint length + 1, 0 for null. */
  compactNullableString(field = 'compact string'): string | null {
    const n = this.uvarint();
    if (n === 0) return null;
    return this.utf8(n - 1, field);
  }

  /** COMPACT_STRING: like compactNullableString but null is an error. */
  compactString(field = 'compact string'): string {
    const at = this.offset;
    const s = this.compactNullableString(field);
    if (s === null) this.fail(`Unexpected null ${field} at offset ${at}`, at);
    return s;
  }

  /** NULLABLE_BYTES: int32 length, -1 for null. A view of the input. */
  nullableBytes(field = 'bytes'): Buffer | null {
    const at = this.offset;
    const len = this.int32();
    if (len === -1) return null;
    if (len < 0) this.fail(`Invalid ${field} length ${len} at offset ${at}`, at);
    return this.raw(len, field);
  }

  /** BYTES: like nullableBytes but null is an error. */
  bytes(field = 'bytes'): Buffer {
    const at = this.offset;
    const b = this.nullableBytes(field);
    if (b === null) this.fail(`Unexpected null ${field} at offset ${at}`, at);
    return b;
  }

  /** COMPACT_NULLABLE_BYTES: uvarint length + 1, 0 for null. A view of the input. */
  compactNullableBytes(field = 'compact bytes'): Buffer | null {
    const n = this.uvarint();
    if (n === 0) return null;
    return this.raw(n - 1, field);
  }

  /** COMPACT_BYTES: like compactNullableBytes but null is an error. */
  compactBytes(field = 'compact bytes'): Buffer {
    const at = this.offset;
    const b = this.compactNullableBytes(field);
    if (b === null) this.fail(`Unexpected null ${field} at offset ${at}`, at);
    return b;
  }

  /** UUID: 16 bytes, as a view of the input. */
  uuid(field = 'uuid'): Buffer {
    return this.raw(16, field);
  }

  // Arrays: `minItemBytes` is the fewest bytes one item can take (4 for an array of int32),
  // which bounds the count by the bytes left before anything is allocated.

  /** NULLABLE ARRAY: int32 count, -1 for null. */
  nullableArray<T>(each: (r: Reader) => T, field = '', minItemBytes = 1): T[] | null {
    const at = this.offset;
    const n = this.int32();
    if (n === -1) return null;
    return this.items(n, each, field, minItemBytes, at);
  }

  /** ARRAY: int32 count; a null array reads as empty. */
  array<T>(each: (r: Reader) => T, field = '', minItemBytes = 1): T[] {
    return this.nullableArray(each, field, minItemBytes) ?? [];
  }

  /** COMPACT_NULLABLE_ARRAY: uvarint count + 1, 0 for null. */
  compactNullableArray<T>(each: (r: Reader) => T, field = '', minItemBytes = 1): T[] | null {
    const at = this.offset;
    const n = this.uvarint();
    if (n === 0) return null;
    return this.items(n - 1, each, field, minItemBytes, at);
  }

  /** COMPACT_ARRAY: a null array reads as empty. */
  compactArray<T>(each: (r: Reader) => T, field = '', minItemBytes = 1): T[] {
    return this.compactNullableArray(each, field, minItemBytes) ?? [];
  }

  /** ARRAY's count alone, checked as the array readers check it (a null array counts 0), for
   * decoders that read the items inline instead of through a callback per item. */
  arrayCount(field = '', minItemBytes = 1): number {
    const at = this.offset;
    const n = this.int32();
    if (n === -1) return 0;
    this.checkCount(n, field, minItemBytes, at);
    return n;
  }

  /** COMPACT_ARRAY's count alone (null counts 0); see arrayCount. */
  compactArrayCount(field = '', minItemBytes = 1): number {
    const at = this.offset;
    const n = this.uvarint();
    if (n === 0) return 0;
    this.checkCount(n - 1, field, minItemBytes, at);
    return n - 1;
  }

  private checkCount(n: number, field: string, minItemBytes: number, at: number): void {
    // A count that the bytes left cannot hold is corrupt input: refuse it before allocating.
    if (n >= 0 && n * minItemBytes <= this.remaining) return;
    const what = field === '' ? 'array count' : `${field} array count`;
    if (n < 0) this.fail(`${what} ${n} at offset ${at} is negative`, at);
    this.fail(`${what} ${n} at offset ${at} exceeds the ${this.remaining} bytes left`, at);
  }

  private items<T>(n: number, each: (r: Reader) => T, field: string, minItemBytes: number, at: number): T[] {
    this.checkCount(n, field, minItemBytes, at);
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) out[i] = each(this);
    return out;
  }

  /**
   * Reads a tagged-field section. `onField(tag, r, size)` is called for each field with a
   * reader that ends where the field ends (so a corrupt field cannot read into what follows);
   * it must consume exactly `size` bytes, or return false to have the field skipped. Without
   * a handler all fields are skipped.
   */
  taggedFields(onField?: (tag: number, r: Reader, size: number) => boolean): void {
    const at = this.offset;
    const count = this.uvarint();
    // Each field takes at least two bytes (its tag and its size).
    if (count * 2 > this.remaining) {
      this.fail(`tagged field count ${count} at offset ${at} exceeds the ${this.remaining} bytes left`, at);
    }
    for (let i = 0; i < count; i++) {
      const tag = this.uvarint();
      const size = this.uvarint();
      this.need(size, `tagged field ${tag}`);
      const start = this.offset;
      const end = start + size;
      if (onField !== undefined) {
        const field = new Reader(this.buf.subarray(0, end), start, this.context);
        if (onField(tag, field, size) && field.offset !== end) {
          this.fail(`Tagged field ${tag} at offset ${start} was ${size} bytes but its decoder read ${field.offset - start}`, start);
        }
      }
      this.offset = end;
    }
  }

  skipTaggedFields(): void {
    // Nearly every section is empty: one zero byte (a count of 0).
    if (this.offset < this.buf.length && this.buf[this.offset] === 0) {
      this.offset++;
      return;
    }
    this.taggedFields();
  }
}
