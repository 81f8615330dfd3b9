/**
 * XXH32 (xxHash, 32-bit), the checksum of the LZ4 frame format: the frame descriptor's
 * header-checksum byte is (XXH32(descriptor, 0) >> 8) & 0xFF, and the optional block and
 * content checksums are whole XXH32 values (seed 0).
 *
 * Written here rather than taken from a package because the LZ4 frame code needs only this
 * one function, on a few bytes per frame when writing (and on every block only when a frame
 * that someone else wrote asks for block or content checksums).
 */

const PRIME1 = 0x9e3779b1;
const PRIME2 = 0x85ebca77;
const PRIME3 = 0xc2b2ae3d;
const PRIME4 = 0x27d4eb2f;
const PRIME5 = 0x165667b1;

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function readU32LE(b: Uint8Array, i: number): number {
  return (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
}

/** One lane step: acc + lane * PRIME2, rotated left 13, times PRIME1. */
function round(acc: number, lane: number): number {
  return Math.imul(rotl((acc + Math.imul(lane, PRIME2)) | 0, 13), PRIME1);
}

/** XXH32 of data[start, end) with `seed` (0 for LZ4). Returns an unsigned 32-bit integer. */
export function xxhash32(data: Uint8Array, seed = 0, start = 0, end = data.length): number {
  const len = end - start;
  let p = start;
  let acc: number;
  if (len >= 16) {
    let v1 = (seed + PRIME1 + PRIME2) | 0;
    let v2 = (seed + PRIME2) | 0;
    let v3 = seed | 0;
    let v4 = (seed - PRIME1) | 0;
    const limit = end - 16;
    while (p <= limit) {
      v1 = round(v1, readU32LE(data, p));
      v2 = round(v2, readU32LE(data, p + 4));
      v3 = round(v3, readU32LE(data, p + 8));
      v4 = round(v4, readU32LE(data, p + 12));
      p += 16;
    }
    acc = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else {
    acc = (seed + PRIME5) | 0;
  }
  acc = (acc + len) | 0;
  while (p + 4 <= end) {
    acc = Math.imul(rotl((acc + Math.imul(readU32LE(data, p), PRIME3)) | 0, 17), PRIME4);
    p += 4;
  }
  while (p < end) {
    acc = Math.imul(rotl((acc + Math.imul(data[p], PRIME5)) | 0, 11), PRIME1);
    p++;
  }
  acc ^= acc >>> 15;
  acc = Math.imul(acc, PRIME2);
  acc ^= acc >>> 13;
  acc = Math.imul(acc, PRIME3);
  acc ^= acc >>> 16;
  return acc >>> 0;
}
