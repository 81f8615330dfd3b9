/**
 * A big-endian reader over one Buffer, for Kafka responses and record batches.
 *
 * Every read checks bounds first and throws an Error that says what was being read, where,
 * and how many bytes were missing: a truncated or corrupt response must fail loudly, never
 * decode into garbage. Byte fields come back as views (subarray) of the input, not copies.
 */

const TWO_POW_32 = 0x1_0000_0000;

export class Reader {
  readonly buf: Buffer;
  offset: number;

  constructor(buf: Buffer, offset = 0) {
    this.buf = buf;
    this.offset = offset;
  }

  /** Bytes left after the current offset. */
  get remaining(): number {
    return this.buf.length - this.offset;
  }

  private need(n: number, what: string): void {
    if (n < 0 || this.offset + n > this.buf.length) {
      throw new Error(
        `Truncated input reading ${what}: need ${n} byte(s) at offset ${this.offset}, ` +
          `${this.buf.length - this.offset} left`,
      );
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
      throw new Error(`int64 at offset ${this.offset} does not fit a safe integer; read it as bigint`);
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
      result |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.offset = p;
        return result >>> 0;
      }
    }
    throw new Error(`Invalid uvarint at offset ${this.offset}: more than 5 bytes`);
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
        if (i === 10) throw new Error(`Invalid varlong at offset ${start}: more than 10 bytes`);
        if (p >= buf.length) this.truncatedVarint('varlong');
        const b = buf[p++];
        a += (b & 0x7f) * scale;
        scale *= 128;
        if (b < 0x80) break;
      }
      if (a > Number.MAX_SAFE_INTEGER) {
        throw new Error(`varlong at offset ${start} does not fit a safe integer`);
      }
    }
    this.offset = p;
    return negative ? -a - 1 : a;
  }

  private truncatedVarint(what: string): never {
    throw new Error(`Truncated input reading ${what} at offset ${this.offset}: ran out of bytes`);
  }

  /** `n` raw bytes as a view of the input. */
  raw(n: number): Buffer {
    this.need(n, `${n} raw bytes`);
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

  /** NULLABLE_STRING: int16 length, -1 for null. */
  nullableString(): string | null {
    const len = this.int16();
    if (len === -1) return null;
    if (len < 0) throw new Error(`Invalid string length ${len} at offset ${this.offset - 2}`);
    return this.utf8(len, 'string');
  }

  /** STRING: like nullableString but null is an error. */
  string(): string {
    const s = this.nullableString();
    if (s === null) throw new Error(`Unexpected null string at offset ${this.offset - 2}`);
    return s;
  }

  /** COMPACT_NULLABLE_STRING: uvarint length + 1, 0 for null. */
  compactNullableString(): string | null {
    const n = this.uvarint();
    if (n === 0) return null;
    return this.utf8(n - 1, 'compact string');
  }

  /** COMPACT_STRING: like compactNullableString but null is an error. */
  compactString(): string {
    const at = this.offset;
    const s = this.compactNullableString();
    if (s === null) throw new Error(`Unexpected null compact string at offset ${at}`);
    return s;
  }

  /** NULLABLE_BYTES: int32 length, -1 for null. A view of the input. */
  nullableBytes(): Buffer | null {
    const len = this.int32();
    if (len === -1) return null;
    if (len < 0) throw new Error(`Invalid bytes length ${len} at offset ${this.offset - 4}`);
    return this.raw(len);
  }

  /** BYTES: like nullableBytes but null is an error. */
  bytes(): Buffer {
    const b = this.nullableBytes();
    if (b === null) throw new Error(`Unexpected null bytes at offset ${this.offset - 4}`);
    return b;
  }

  /** COMPACT_NULLABLE_BYTES: uvarint length + 1, 0 for null. A view of the input. */
  compactNullableBytes(): Buffer | null {
    const n = this.uvarint();
    if (n === 0) return null;
    return this.raw(n - 1);
  }

  /** COMPACT_BYTES: like compactNullableBytes but null is an error. */
  compactBytes(): Buffer {
    const at = this.offset;
    const b = this.compactNullableBytes();
    if (b === null) throw new Error(`Unexpected null compact bytes at offset ${at}`);
    return b;
  }

  /** UUID: 16 bytes, as a view of the input. */
  uuid(): Buffer {
    return this.raw(16);
  }

  /** NULLABLE ARRAY: int32 count, -1 for null. */
  nullableArray<T>(each: (r: Reader) => T): T[] | null {
    const n = this.int32();
    if (n === -1) return null;
    return this.items(n, each);
  }

  /** ARRAY: int32 count; a null array reads as empty. */
  array<T>(each: (r: Reader) => T): T[] {
    return this.nullableArray(each) ?? [];
  }

  /** COMPACT_NULLABLE_ARRAY: uvarint count + 1, 0 for null. */
  compactNullableArray<T>(each: (r: Reader) => T): T[] | null {
    const n = this.uvarint();
    if (n === 0) return null;
    return this.items(n - 1, each);
  }

  /** COMPACT_ARRAY: a null array reads as empty. */
  compactArray<T>(each: (r: Reader) => T): T[] {
    return this.compactNullableArray(each) ?? [];
  }

  private items<T>(n: number, each: (r: Reader) => T): T[] {
    // Every item takes at least one byte, so a count larger than what is left is corrupt input;
    // checking it here avoids allocating a huge array first.
    if (n < 0 || n > this.remaining) {
      throw new Error(`Invalid array length ${n} at offset ${this.offset} (${this.remaining} bytes left)`);
    }
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) out[i] = each(this);
    return out;
  }

  /**
   * Reads a tagged-field section. `onField(tag, r, size)` is called for each field and must
   * consume exactly `size` bytes or return false to have it skipped; without a handler all
   * fields are skipped.
   */
  taggedFields(onField?: (tag: number, r: Reader, size: number) => boolean): void {
    const count = this.uvarint();
    for (let i = 0; i < count; i++) {
      const tag = this.uvarint();
      const size = this.uvarint();
      this.need(size, `tagged field ${tag}`);
      const end = this.offset + size;
      if (onField !== undefined && onField(tag, this, size)) {
        if (this.offset !== end) {
          throw new Error(`Tagged field ${tag} was ${size} bytes but its decoder read ${this.offset - (end - size)}`);
        }
      } else {
        this.offset = end;
      }
    }
  }

  skipTaggedFields(): void {
    this.taggedFields();
  }
}
