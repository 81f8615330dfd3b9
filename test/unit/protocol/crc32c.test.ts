import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32c } from '../../../ts/protocol/crc32c.js';

/** Bit-at-a-time CRC32C, straight from the definition: the reference the table code must match. */
function crc32cBitwise(buf: Uint8Array, init = 0): number {
  let c = ~init >>> 0;
  for (const byte of buf) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

const pattern = (n: number, seed = 1): Buffer => {
  const b = Buffer.alloc(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    b[i] = s >>> 24;
  }
  return b;
};

describe('crc32c', () => {
  it('RFC 3720 (iSCSI) B.4 vectors', () => {
    assert.equal(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa);
    assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
    assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e);
    assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i))), 0x113fdb5c);
  });

  it('check value of "123456789" and the empty input', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32c(Buffer.alloc(0)), 0);
    assert.equal(crc32c(Buffer.alloc(0), 0x12345678), 0x12345678);
  });

  it('the bitwise reference agrees with the fixed vectors', () => {
    assert.equal(crc32cBitwise(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32cBitwise(Buffer.alloc(32, 0)), 0x8a9136aa);
  });

  it('matches the reference for every length 0..512 and at unaligned offsets', () => {
    const data = pattern(600);
    for (let n = 0; n <= 512; n++) {
      assert.equal(crc32c(data.subarray(0, n)), crc32cBitwise(data.subarray(0, n)), `length ${n}`);
    }
    for (let off = 1; off < 16; off++) {
      const view = data.subarray(off, off + 333);
      assert.equal(crc32c(view), crc32cBitwise(view), `offset ${off}`);
      // a Uint8Array that is not a Buffer
      assert.equal(crc32c(new Uint8Array(view)), crc32cBitwise(view), `Uint8Array offset ${off}`);
    }
  });

  it('continues across every split point: crc32c(b, crc32c(a)) === crc32c(a + b)', () => {
    const data = pattern(300, 7);
    const whole = crc32cBitwise(data);
    assert.equal(crc32c(data), whole);
    for (let split = 0; split <= data.length; split++) {
      const a = data.subarray(0, split);
      const b = data.subarray(split);
      assert.equal(crc32c(b, crc32c(a)), whole, `split at ${split}`);
    }
  });

  it('returns an unsigned 32-bit value', () => {
    for (let n = 0; n < 64; n++) {
      const v = crc32c(pattern(n, n + 3));
      assert.ok(Number.isInteger(v) && v >= 0 && v <= 0xffffffff);
    }
  });
});
