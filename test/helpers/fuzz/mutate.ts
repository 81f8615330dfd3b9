/**
 * Ways to break a valid encoding, for the decoder fuzzer: every truncation, single edits at
 * random places (fast-check arbitraries), and an exhaustive sweep that writes each hostile
 * value at every offset. The hostile values are the ones that hang or exhaust memory in a
 * decoder that trusts a count or a length: counts of 2^31-1 on a few bytes, negative lengths,
 * varints that never end.
 */
import fc from 'fast-check';
import { rec } from './arbitraries.js';

/** int32 counts and lengths that an unbounded decoder would allocate or loop on. */
export const HOSTILE_INT32 = [0x7fff_ffff, -0x8000_0000, -1, -2, 0x7fff_fffe, 0x00ff_ffff, 0x1_0000] as const;
export const HOSTILE_INT16 = [0x7fff, -0x8000, -1, -2] as const;
/** Varint byte strings: the largest 5-byte values, one that is too long, one cut short. */
export const HOSTILE_VARINTS: readonly Buffer[] = [
  Buffer.from('ffffffff0f', 'hex'), // uvarint 2^32-1 (zig-zag: -2^31)
  Buffer.from('feffffff0f', 'hex'), // uvarint 2^32-2 (zig-zag: 2^31-1)
  Buffer.from('ffffffff07', 'hex'), // uvarint 2^31-1
  Buffer.from('ffffff7f', 'hex'), // uvarint 2^28-1
  Buffer.from('ffffffffff01', 'hex'), // six bytes: too long for 32 bits
  Buffer.from('ffffffffffffffffff01', 'hex'), // ten bytes: the longest varlong, over 2^63
  Buffer.from('01', 'hex'), // zig-zag -1: "null" where a length is expected
  Buffer.from('03', 'hex'), // zig-zag -2
];

export type Mutation =
  | { kind: 'flip'; at: number; xor: number }
  | { kind: 'int32'; at: number; value: number }
  | { kind: 'int16'; at: number; value: number }
  | { kind: 'varint'; at: number; bytes: Buffer }
  | { kind: 'endless'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number };

/** Positions are fractions of the buffer's length, so one mutation fits any buffer. */
const at = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  rec({ kind: fc.constant('flip' as const), at, xor: fc.integer({ min: 1, max: 255 }) }),
  rec({ kind: fc.constant('int32' as const), at, value: fc.oneof(fc.constantFrom(...HOSTILE_INT32), fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff })) }),
  rec({ kind: fc.constant('int16' as const), at, value: fc.oneof(fc.constantFrom(...HOSTILE_INT16), fc.integer({ min: -0x8000, max: 0x7fff })) }),
  rec({ kind: fc.constant('varint' as const), at, bytes: fc.constantFrom(...HOSTILE_VARINTS) }),
  rec({ kind: fc.constant('endless' as const), at }),
  rec({ kind: fc.constant('insert' as const), at, bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  rec({ kind: fc.constant('delete' as const), at, count: fc.integer({ min: 1, max: 8 }) }),
);

/** Applies `m` to a copy of `buf` (an empty buffer stays empty except for inserts). */
export function applyMutation(buf: Buffer, m: Mutation): Buffer {
  const pos = Math.floor(m.at * buf.length);
  const out = Buffer.from(buf);
  switch (m.kind) {
    case 'flip':
      if (out.length > 0) out[pos] ^= m.xor;
      return out;
    case 'int32':
      return overwrite(out, pos, int32Bytes(m.value));
    case 'int16':
      return overwrite(out, pos, int16Bytes(m.value));
    case 'varint':
      return overwrite(out, pos, m.bytes);
    case 'endless':
      // Every byte from here on has its continuation bit set: a varint that never ends.
      out.fill(0xff, pos);
      return out;
    case 'insert':
      return Buffer.concat([buf.subarray(0, pos), m.bytes, buf.subarray(pos)]);
    case 'delete':
      return Buffer.concat([buf.subarray(0, pos), buf.subarray(pos + m.count)]);
  }
}

function int32Bytes(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
}

function int16Bytes(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(v);
  return b;
}

/** Writes `bytes` at `pos`, cut at the end of the buffer (the length never changes). */
function overwrite(out: Buffer, pos: number, bytes: Buffer): Buffer {
  bytes.copy(out, pos, 0, Math.max(0, Math.min(bytes.length, out.length - pos)));
  return out;
}

/** Every proper prefix of `buf`, the empty one included. */
export function* truncations(buf: Buffer): Generator<Buffer> {
  for (let n = 0; n < buf.length; n++) yield buf.subarray(0, n);
}

/** `buf` with each hostile int32, int16 and varint written at each offset in turn, and
 * with every byte from each offset on set to 0xff. */
export function* hostileSweep(buf: Buffer): Generator<Buffer> {
  for (let pos = 0; pos < buf.length; pos++) {
    for (const v of HOSTILE_INT32) yield overwrite(Buffer.from(buf), pos, int32Bytes(v));
    for (const v of HOSTILE_INT16) yield overwrite(Buffer.from(buf), pos, int16Bytes(v));
    for (const v of HOSTILE_VARINTS) yield overwrite(Buffer.from(buf), pos, v);
    yield Buffer.from(buf).fill(0xff, pos);
  }
}
