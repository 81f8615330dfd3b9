/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of record batch v2.
 *
 * This is the pure-TypeScript implementation the fallback backend uses when the native addon
 * (with SSE4.2 / VPCLMUL code) cannot load. It is table-driven, slice-by-16: each step folds 16
 * input bytes through 16 lookup tables (16 KiB). Measured on the project's 2-core x86-64 machine
 * with Node 20 against slice-by-8: about 2.1 GB/s vs 2.0 GB/s on 16 KiB and 1 MiB inputs, and
 * the same within noise on 64-byte inputs, so the larger table wins.
 */

const POLY = 0x82f63b78;
const SLICES = 16;

/** TABLE[k * 256 + b] is the CRC register after feeding byte b followed by k zero bytes. */
const TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256 * SLICES);
  for (let b = 0; b < 256; b++) {
    let c = b;
    for (let bit = 0; bit < 8; bit++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[b] = c >>> 0;
  }
  for (let k = 1; k < SLICES; k++) {
    for (let b = 0; b < 256; b++) {
      const prev = t[(k - 1) * 256 + b];
      t[k * 256 + b] = (prev >>> 8) ^ t[prev & 0xff];
    }
  }
  return t;
})();

/**
 * CRC32C of `buf`, unsigned 32-bit. Pass a previous result as `init` to continue it:
 * crc32c(b, crc32c(a)) === crc32c(concat(a, b)).
 */
export function crc32c(buf: Uint8Array, init = 0): number {
  const T = TABLE;
  // The register runs inverted (pre- and post-conditioning with ~), so continuing from a
  // finished CRC starts from its complement.
  let c = ~init | 0;
  const n = buf.length;
  const end16 = n - (n & 15);
  let i = 0;
  for (; i < end16; i += 16) {
    const w = (buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24)) ^ c;
    c =
      T[3840 + (w & 0xff)] ^
      T[3584 + ((w >>> 8) & 0xff)] ^
      T[3328 + ((w >>> 16) & 0xff)] ^
      T[3072 + (w >>> 24)] ^
      T[2816 + buf[i + 4]] ^
      T[2560 + buf[i + 5]] ^
      T[2304 + buf[i + 6]] ^
      T[2048 + buf[i + 7]] ^
      T[1792 + buf[i + 8]] ^
      T[1536 + buf[i + 9]] ^
      T[1280 + buf[i + 10]] ^
      T[1024 + buf[i + 11]] ^
      T[768 + buf[i + 12]] ^
      T[512 + buf[i + 13]] ^
      T[256 + buf[i + 14]] ^
      T[buf[i + 15]];
  }
  for (; i < n; i++) c = T[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
