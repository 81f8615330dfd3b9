import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Reader } from '../../../ts/protocol/reader.js';
import { sizeOfUvarint, sizeOfVarint, sizeOfVarlong, Writer } from '../../../ts/protocol/writer.js';
import { prng } from '../../helpers/prng.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytesOf = (fn: (w: Writer) => void): string => {
  const w = new Writer(16);
  fn(w);
  return hex(w.finish());
};

/** Reference zig-zag varlong with BigInt, written straight from the definition. */
function refVarlong(v: bigint): string {
  let zz = v >= 0n ? v << 1n : ((-v) << 1n) - 1n;
  const out: number[] = [];
  while (zz >= 0x80n) {
    out.push(Number(zz & 0x7fn) | 0x80);
    zz >>= 7n;
  }
  out.push(Number(zz));
  return Buffer.from(out).toString('hex');
}

describe('Writer fixed-width integers', () => {
  it('writes big-endian int8/16/32/uint32/int64', () => {
    assert.equal(bytesOf((w) => w.int8(-1)), 'ff');
    assert.equal(bytesOf((w) => w.int16(0x1234)), '1234');
    assert.equal(bytesOf((w) => w.int16(-2)), 'fffe');
    assert.equal(bytesOf((w) => w.int32(-1)), 'ffffffff');
    assert.equal(bytesOf((w) => w.int32(0x01020304)), '01020304');
    assert.equal(bytesOf((w) => w.uint32(0xfedcba98)), 'fedcba98');
    assert.equal(bytesOf((w) => w.int64(-1n)), 'ffffffffffffffff');
    assert.equal(bytesOf((w) => w.int64(0x0102030405060708n)), '0102030405060708');
  });

  it('int64n matches int64 for safe integers and rejects others', () => {
    for (const v of [0, 1, -1, 2 ** 32, -(2 ** 32), 2 ** 32 - 1, 1509928155660, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
      assert.equal(bytesOf((w) => w.int64n(v)), bytesOf((w) => w.int64(BigInt(v))), String(v));
    }
    assert.throws(() => new Writer().int64n(2 ** 53), RangeError);
    assert.throws(() => new Writer().int64n(1.5), RangeError);
  });
});

describe('varints', () => {
  it('uvarint known encodings', () => {
    assert.equal(bytesOf((w) => w.uvarint(0)), '00');
    assert.equal(bytesOf((w) => w.uvarint(127)), '7f');
    assert.equal(bytesOf((w) => w.uvarint(128)), '8001');
    assert.equal(bytesOf((w) => w.uvarint(300)), 'ac02');
    assert.equal(bytesOf((w) => w.uvarint(0xffffffff)), 'ffffffff0f');
  });

  it('varint (zig-zag 32) known encodings', () => {
    assert.equal(bytesOf((w) => w.varint(0)), '00');
    assert.equal(bytesOf((w) => w.varint(-1)), '01');
    assert.equal(bytesOf((w) => w.varint(1)), '02');
    assert.equal(bytesOf((w) => w.varint(63)), '7e');
    assert.equal(bytesOf((w) => w.varint(-64)), '7f');
    assert.equal(bytesOf((w) => w.varint(64)), '8001');
    assert.equal(bytesOf((w) => w.varint(2147483647)), 'feffffff0f');
    assert.equal(bytesOf((w) => w.varint(-2147483648)), 'ffffffff0f');
  });

  it('varlong matches a BigInt reference at the edges and at random', () => {
    const values = [0, 1, -1, 63, -64, 64, -65, 2 ** 30 - 1, -(2 ** 30), 2 ** 30, -(2 ** 30) - 1, 2 ** 31, -(2 ** 31),
      2 ** 32, 2 ** 52, -(2 ** 52), 2 ** 52 + 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 1509928155660, -1509928155660];
    const rand = prng(1);
    for (let i = 0; i < 2000; i++) {
      const magnitude = Math.floor(rand() * 2 ** Math.floor(rand() * 54));
      values.push(rand() < 0.5 ? 0 - magnitude : magnitude); // 0 - 0 is +0, unlike -0
    }
    for (const v of values) {
      const got = bytesOf((w) => w.varlong(v));
      assert.equal(got, refVarlong(BigInt(v)), `varlong(${v})`);
      assert.equal(sizeOfVarlong(v), got.length / 2, `sizeOfVarlong(${v})`);
      assert.equal(new Reader(Buffer.from(got, 'hex')).varlong(), v, `read varlong(${v})`);
    }
    assert.throws(() => new Writer().varlong(2 ** 53), RangeError);
  });

  it('round-trips varint and uvarint, sizes agree', () => {
    const rand = prng(2);
    const ints = [0, 1, -1, 2147483647, -2147483648];
    for (let i = 0; i < 2000; i++) ints.push((rand() * 2 ** 32) | 0);
    for (const v of ints) {
      const w = new Writer(4).varint(v).uvarint(v >>> 0);
      const buf = w.finish();
      assert.equal(buf.length, sizeOfVarint(v) + sizeOfUvarint(v >>> 0));
      const r = new Reader(buf);
      assert.equal(r.varint(), v);
      assert.equal(r.uvarint(), v >>> 0);
      assert.equal(r.remaining, 0);
    }
  });

  it('rejects over-long and truncated varints', () => {
    assert.throws(() => new Reader(Buffer.from('ffffffffff01', 'hex')).uvarint(), /more than 5 bytes/);
    assert.throws(() => new Reader(Buffer.from('8080', 'hex')).uvarint(), /Truncated/);
    assert.throws(() => new Reader(Buffer.from('80808080808080808080', 'hex')).varlong(), /more than 10 bytes|Truncated/);
    assert.throws(() => new Reader(Buffer.from('ff', 'hex')).varlong(), /Truncated/);
    // 2^54 zig-zagged (positive): does not fit a safe integer
    assert.throws(() => new Reader(Buffer.from(refVarlong(1n << 54n), 'hex')).varlong(), /safe integer/);
  });
});

describe('strings, bytes, arrays', () => {
  it('string and compactString, null and UTF-8', () => {
    assert.equal(bytesOf((w) => w.string('ab')), '00026162');
    assert.equal(bytesOf((w) => w.string(null)), 'ffff');
    assert.equal(bytesOf((w) => w.string('')), '0000');
    assert.equal(bytesOf((w) => w.compactString('ab')), '036162');
    assert.equal(bytesOf((w) => w.compactString(null)), '00');
    assert.equal(bytesOf((w) => w.compactString('')), '01');
    assert.equal(bytesOf((w) => w.string('é')), '0002c3a9');
    const r = new Reader(Buffer.from('0002c3a9ffff03616200', 'hex'));
    assert.equal(r.string(), 'é');
    assert.equal(r.nullableString(), null);
    assert.equal(r.compactString(), 'ab');
    assert.equal(r.compactNullableString(), null);
    assert.throws(() => new Reader(Buffer.from('ffff', 'hex')).string(), /null string/);
    assert.throws(() => new Reader(Buffer.from('00', 'hex')).compactString(), /null compact string/);
  });

  it('bytes and compactBytes', () => {
    assert.equal(bytesOf((w) => w.bytes(Buffer.from([1, 2]))), '000000020102');
    assert.equal(bytesOf((w) => w.bytes(null)), 'ffffffff');
    assert.equal(bytesOf((w) => w.compactBytes(Buffer.from([1, 2]))), '030102');
    assert.equal(bytesOf((w) => w.compactBytes(null)), '00');
    const r = new Reader(Buffer.from('000000020102ffffffff03010200', 'hex'));
    assert.equal(hex(r.bytes()), '0102');
    assert.equal(r.nullableBytes(), null);
    assert.equal(hex(r.compactBytes()), '0102');
    assert.equal(r.compactNullableBytes(), null);
  });

  it('arrays and compact arrays, null and empty', () => {
    assert.equal(bytesOf((w) => w.array([1, 2], (x, v) => x.int16(v))), '0000000200010002');
    assert.equal(bytesOf((w) => w.array(null, (x, v: number) => x.int16(v))), 'ffffffff');
    assert.equal(bytesOf((w) => w.compactArray([1, 2], (x, v) => x.int16(v))), '0300010002');
    assert.equal(bytesOf((w) => w.compactArray(null, (x, v: number) => x.int16(v))), '00');
    const r = new Reader(Buffer.from('0000000200010002ffffffff030001000200', 'hex'));
    assert.deepEqual(r.array((x) => x.int16()), [1, 2]);
    assert.equal(r.nullableArray((x) => x.int16()), null);
    assert.deepEqual(r.compactArray((x) => x.int16()), [1, 2]);
    assert.equal(r.compactNullableArray((x) => x.int16()), null);
    assert.throws(
      () => new Reader(Buffer.from('7fffffff', 'hex')).array((x) => x.int8(), 'topics'),
      /^ProtocolDecodeError: topics array count 2147483647 at offset 0 exceeds the 0 bytes left$/,
    );
    // the count is checked against the item's smallest size: 2 int32s do not fit in 4 bytes
    assert.throws(() => new Reader(Buffer.from('0000000200000001', 'hex')).array((x) => x.int32(), 'isr_nodes', 4), /isr_nodes array count 2 at offset 0 exceeds the 4 bytes left/);
  });

  it('tagged fields: empty, skipped, and read by a handler', () => {
    assert.equal(bytesOf((w) => w.emptyTaggedFields()), '00');
    // two fields: tag 0 size 2 (0x0102), tag 5 size 1 (0xff), then an int8 after the section
    const buf = Buffer.from('02' + '00' + '02' + '0102' + '05' + '01' + 'ff' + '7f', 'hex');
    const skip = new Reader(buf);
    skip.skipTaggedFields();
    assert.equal(skip.int8(), 0x7f);
    const seen: number[] = [];
    const read = new Reader(buf);
    read.taggedFields((tag, r) => {
      if (tag !== 0) return false;
      seen.push(r.int16());
      return true;
    });
    assert.deepEqual(seen, [0x0102]);
    assert.equal(read.int8(), 0x7f);
    const bad = new Reader(buf);
    assert.throws(() => bad.taggedFields((_tag, r) => (r.int8(), true)), /Tagged field 0 at offset 3 was 2 bytes but its decoder read 1/);
    // a handler cannot read past its field: it sees a reader that ends there
    const past = new Reader(buf);
    assert.throws(() => past.taggedFields((_tag, r) => (r.int32(), true)), /Truncated input reading int32: need 4 byte\(s\) at offset 3, 2 left/);
  });
});

describe('Writer buffer management', () => {
  it('grows past its initial capacity and finish() returns an independent copy', () => {
    const w = new Writer(16);
    const big = Buffer.alloc(10_000, 7);
    w.int32(1).raw(big).int8(9);
    const a = w.finish();
    assert.equal(a.length, 4 + 10_000 + 1);
    assert.equal(a[a.length - 1], 9);
    w.reset().int32(0x11111111);
    assert.equal(a.readInt32BE(0), 1, 'reset + reuse must not touch a finished buffer');
    assert.equal(w.length, 4);
  });

  it('truncate rewinds to an earlier length', () => {
    const w = new Writer();
    w.int16(1);
    const mark = w.length;
    w.int32(2).string('dropped');
    w.truncate(mark).int8(3);
    assert.equal(hex(w.finish()), '000103');
    assert.throws(() => w.truncate(4), RangeError);
  });

  it('reserve + patch, with bounds checks', () => {
    const w = new Writer();
    const at = w.reserve(4);
    w.int16(5);
    w.patchInt32(at, w.length - 4);
    assert.equal(hex(w.finish()), '000000020005');
    const w2 = new Writer();
    const crcAt = w2.reserve(4);
    w2.patchUint32(crcAt, 0xe3069283);
    assert.equal(hex(w2.finish()), 'e3069283');
    assert.throws(() => w2.patchInt32(2, 0), RangeError);
  });
});

describe('Reader bounds', () => {
  it('throws a clear error on truncated input', () => {
    assert.throws(() => new Reader(Buffer.from('0001', 'hex')).int32(), /Truncated input reading int32: need 4 byte\(s\) at offset 0, 2 left/);
    assert.throws(() => new Reader(Buffer.from('0005616263', 'hex')).string(), /Truncated input reading string/);
    assert.throws(() => new Reader(Buffer.from('00000010aa', 'hex')).bytes(), /Truncated/);
    assert.throws(() => new Reader(Buffer.alloc(7)).int64(), /Truncated/);
  });

  it('int64n reads safe integers and refuses others', () => {
    assert.equal(new Reader(Buffer.from('0000015f8ebb3a0c', 'hex')).int64n(), 1509928155660);
    assert.equal(new Reader(Buffer.from('ffffffffffffffff', 'hex')).int64n(), -1);
    assert.throws(() => new Reader(Buffer.from('7fffffffffffffff', 'hex')).int64n(), /safe integer/);
  });
});
