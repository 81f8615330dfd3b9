/**
 * lz4 (codec 3): the LZ4 frame format (magic 0x184D2204), as the Java client's
 * Lz4BlockOutputStream writes it since KIP-57 (Kafka 0.10):
 *
 *   frame      = magic (u32 LE 0x184D2204)
 *                FLG  0x60: version 01, block independence 1, no block checksum,
 *                           no content size, no content checksum, no dictionary id
 *                BD   0x40: maximum block size 64 KiB
 *                HC   (XXH32(FLG BD, seed 0) >> 8) & 0xFF   -> bytes 04 22 4D 18 60 40 82
 *                block*
 *                end mark (u32 LE 0)
 *   block      = u32 LE size, bit 31 set when the block is stored uncompressed, then the data
 *
 * Each block holds up to 64 KiB of input, compressed on its own (the Java reader refuses
 * dependent blocks); a block that does not shrink is stored as it is, as Java does.
 *
 * Compression of a block: lz4-wasm-nodejs (lz4_flex, a Rust LZ4, built to WebAssembly), whose
 * output is a 4-byte little-endian length followed by one raw LZ4 block; we keep the block and
 * write the frame. It has no levels: compression.lz4.level is checked (1..17) and applies to
 * the native backend only (liblz4's fast compressor at the default 9, lz4 HC otherwise, as
 * Java does).
 *
 * Decompression is ours, frame and blocks: the package's decoder needs each block's exact
 * uncompressed size, which a frame does not carry. The reader accepts what the format allows
 * and other clients write: dependent blocks, block and content checksums (checked), a content
 * size, block sizes up to 4 MiB, skippable frames and several frames in a row, and the header
 * checksum that Kafka clients before KIP-57 wrote (computed over the magic too).
 */

import { CodecId } from '../backend/types.js';
import type { Codec } from './codec.js';
import { validateLevel } from './levels.js';
import { corruptInput, loadCodecPackage, MAX_DECOMPRESSED_BYTES, SCRATCH_MAX, type PackageLoader } from './packages.js';
import { xxhash32 } from './xxhash32.js';

/** What we use of lz4-wasm-nodejs: compress() returns u32 LE input length + one raw block. */
export interface Lz4BlockPackage {
  compress(input: Uint8Array): Uint8Array;
}

function isLz4BlockPackage(m: unknown): m is Lz4BlockPackage {
  return !!m && typeof (m as Partial<Lz4BlockPackage>).compress === 'function';
}

export const LZ4_FRAME_MAGIC = 0x184d2204;
const SKIPPABLE_MAGIC_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;

const FLG_VERSION_MASK = 0xc0;
const FLG_VERSION_01 = 0x40;
const FLG_BLOCK_INDEPENDENCE = 0x20;
const FLG_BLOCK_CHECKSUM = 0x10;
const FLG_CONTENT_SIZE = 0x08;
const FLG_CONTENT_CHECKSUM = 0x04;
const FLG_RESERVED = 0x02;
const FLG_DICT_ID = 0x01;
const BD_BLOCK_SIZE_SHIFT = 4;
const BD_RESERVED = 0x8f;
const BLOCK_SIZE_ID_64KB = 4;

/** The frame descriptor we write: FLG, BD. */
export const LZ4_FLG = FLG_VERSION_01 | FLG_BLOCK_INDEPENDENCE;
export const LZ4_BD = BLOCK_SIZE_ID_64KB << BD_BLOCK_SIZE_SHIFT;
export const LZ4_BLOCK_SIZE = 64 * 1024;
const UNCOMPRESSED_BIT = 0x80000000;
const MIN_MATCH = 4;

/** Header: magic 4 + FLG + BD + HC. */
const HEADER_SIZE = 7;

/** The header-checksum byte of a frame descriptor (FLG, BD and the optional fields). */
export function lz4HeaderChecksum(descriptor: Uint8Array, start: number, end: number): number {
  return (xxhash32(descriptor, 0, start, end) >>> 8) & 0xff;
}

/** Frame writer around a block compressor (lz4-wasm-nodejs; tests may pass another). */
export function createLz4CodecWith(block: Lz4BlockPackage): Codec {
  let scratch = Buffer.allocUnsafe(0);

  return {
    id: CodecId.Lz4,
    name: 'lz4',
    compress(data: Buffer, level?: number): Buffer {
      validateLevel('lz4', level); // accepted for the native backend; lz4_flex has no levels
      const blocks = Math.ceil(data.length / LZ4_BLOCK_SIZE);
      // Stored blocks never exceed their input, so this bounds the frame.
      const bound = HEADER_SIZE + blocks * 4 + data.length + 4;
      // Kept between calls up to 1 MiB (batches are smaller than that); larger inputs get their own.
      if (scratch.length < bound && bound <= SCRATCH_MAX) scratch = Buffer.allocUnsafe(Math.max(bound, 64 * 1024));
      const out = bound <= scratch.length ? scratch : Buffer.allocUnsafe(bound);
      out.writeUInt32LE(LZ4_FRAME_MAGIC, 0);
      out[4] = LZ4_FLG;
      out[5] = LZ4_BD;
      out[6] = lz4HeaderChecksum(out, 4, 6);
      let pos = HEADER_SIZE;
      for (let off = 0; off < data.length; off += LZ4_BLOCK_SIZE) {
        const end = Math.min(off + LZ4_BLOCK_SIZE, data.length);
        const n = end - off;
        const prefixed = block.compress(data.subarray(off, end));
        const c = prefixed.length - 4;
        if (c < n) {
          out.writeUInt32LE(c, pos);
          out.set(prefixed.subarray(4), pos + 4);
          pos += 4 + c;
        } else {
          out.writeUInt32LE((UNCOMPRESSED_BIT | n) >>> 0, pos);
          data.copy(out, pos + 4, off, end);
          pos += 4 + n;
        }
      }
      out.writeUInt32LE(0, pos);
      pos += 4;
      // A copy of the exact size: scratch is reused by the next call.
      return Buffer.from(out.subarray(0, pos));
    },
    decompress: decompressLz4Frames,
  };
}

export function createLz4Codec(load: PackageLoader): Codec {
  return createLz4CodecWith(loadCodecPackage('lz4', load, isLz4BlockPackage));
}

/** A growable output buffer. */
class Output {
  buf: Buffer;
  pos = 0;
  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(capacity);
  }
  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    if (need > MAX_DECOMPRESSED_BYTES) throw corruptInput('lz4', `output over the ${MAX_DECOMPRESSED_BYTES}-byte limit`);
    const next = Buffer.allocUnsafe(Math.min(MAX_DECOMPRESSED_BYTES, Math.max(need, this.buf.length * 2)));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}

/** Decompresses every frame in `data` (skippable frames skipped). */
export function decompressLz4Frames(data: Buffer): Buffer {
  const out = new Output(Math.min(MAX_DECOMPRESSED_BYTES, Math.max(LZ4_BLOCK_SIZE, data.length * 4)));
  let pos = 0;
  do {
    pos = decodeFrame(data, pos, out);
  } while (pos < data.length);
  const { buf } = out;
  return out.pos === buf.length ? buf : Buffer.from(buf.subarray(0, out.pos));
}

function need(data: Buffer, pos: number, n: number, what: string): void {
  if (pos + n > data.length) throw corruptInput('lz4', `truncated ${what} at offset ${pos}`);
}

/** Decodes the frame at data[pos] into `out`; returns the offset after it. */
function decodeFrame(data: Buffer, pos: number, out: Output): number {
  need(data, pos, 4, 'frame magic');
  const magic = data.readUInt32LE(pos);
  if ((magic & SKIPPABLE_MAGIC_MASK) >>> 0 === SKIPPABLE_MAGIC) {
    need(data, pos + 4, 4, 'skippable frame size');
    const size = data.readUInt32LE(pos + 4);
    need(data, pos + 8, size, 'skippable frame');
    return pos + 8 + size;
  }
  if (magic !== LZ4_FRAME_MAGIC) {
    throw corruptInput('lz4', `bad frame magic 0x${magic.toString(16).padStart(8, '0')} at offset ${pos} (expected 0x184d2204)`);
  }
  need(data, pos, HEADER_SIZE, 'frame header');
  const flg = data[pos + 4];
  const bd = data[pos + 5];
  if ((flg & FLG_VERSION_MASK) !== FLG_VERSION_01) throw corruptInput('lz4', `unsupported frame version ${flg >>> 6}`);
  if (flg & FLG_RESERVED || bd & BD_RESERVED) throw corruptInput('lz4', 'reserved bits set in the frame descriptor');
  if (flg & FLG_DICT_ID) throw corruptInput('lz4', 'frame needs a dictionary (dictionary id set); none is available');
  const blockSizeId = (bd >>> BD_BLOCK_SIZE_SHIFT) & 7;
  if (blockSizeId < 4) throw corruptInput('lz4', `invalid block size id ${blockSizeId}`);
  const maxBlockSize = 1 << (2 * blockSizeId + 8);
  const descriptorEnd = pos + 6 + (flg & FLG_CONTENT_SIZE ? 8 : 0);
  need(data, descriptorEnd, 1, 'frame header');
  let contentSize = -1;
  if (flg & FLG_CONTENT_SIZE) {
    const size = data.readBigUInt64LE(pos + 6);
    if (size > BigInt(MAX_DECOMPRESSED_BYTES)) throw corruptInput('lz4', `content size ${size} over the limit`);
    contentSize = Number(size);
  }
  const hc = data[descriptorEnd];
  // Kafka clients before KIP-57 (0.10) hashed the magic too; accept that form as Java does
  // for old message formats, since reading it is harmless.
  if (hc !== lz4HeaderChecksum(data, pos + 4, descriptorEnd) && hc !== lz4HeaderChecksum(data, pos, descriptorEnd)) {
    throw corruptInput('lz4', 'frame header checksum mismatch');
  }
  pos = descriptorEnd + 1;
  const independent = (flg & FLG_BLOCK_INDEPENDENCE) !== 0;
  const blockChecksum = (flg & FLG_BLOCK_CHECKSUM) !== 0;
  const frameOut = out.pos;
  if (contentSize >= 0) out.reserve(contentSize);
  for (;;) {
    need(data, pos, 4, 'block size');
    const word = data.readUInt32LE(pos);
    pos += 4;
    if (word === 0) break;
    const stored = (word & UNCOMPRESSED_BIT) !== 0;
    const size = (word & ~UNCOMPRESSED_BIT) >>> 0;
    if (size > maxBlockSize) throw corruptInput('lz4', `block of ${size} bytes in a frame of ${maxBlockSize}-byte blocks`);
    need(data, pos, size + (blockChecksum ? 4 : 0), 'block');
    if (blockChecksum && xxhash32(data, 0, pos, pos + size) !== data.readUInt32LE(pos + size)) {
      throw corruptInput('lz4', `block checksum mismatch at offset ${pos - 4}`);
    }
    if (stored) {
      out.reserve(size);
      data.copy(out.buf, out.pos, pos, pos + size);
      out.pos += size;
    } else {
      out.reserve(maxBlockSize);
      // Independent blocks may not reach before their own start; dependent ones may reach
      // 64 KiB back into the frame's earlier output.
      out.pos = decodeBlock(data, pos, pos + size, out.buf, out.pos, out.pos + maxBlockSize, independent ? out.pos : frameOut);
    }
    pos += size + (blockChecksum ? 4 : 0);
  }
  if (flg & FLG_CONTENT_CHECKSUM) {
    need(data, pos, 4, 'content checksum');
    if (xxhash32(out.buf, 0, frameOut, out.pos) !== data.readUInt32LE(pos)) throw corruptInput('lz4', 'content checksum mismatch');
    pos += 4;
  }
  if (contentSize >= 0 && out.pos - frameOut !== contentSize) {
    throw corruptInput('lz4', `frame declared ${contentSize} bytes of content but held ${out.pos - frameOut}`);
  }
  return pos;
}

/**
 * Decodes one raw LZ4 block, src[sp, send), into dst at dp; returns the new end of output.
 * Every read and write is bounds-checked against send, dstLimit and lowBound (the first
 * output byte a match may copy from), so corrupt input throws instead of reading or writing
 * out of place.
 *
 *   sequence = token (literal length << 4 | match length - 4)
 *              [literal length extension: 255* then < 255] literals
 *              match offset (u16 LE, 1..65535) [match length extension]
 *   The last sequence has literals only.
 */
function decodeBlock(src: Buffer, sp: number, send: number, dst: Buffer, dp: number, dstLimit: number, lowBound: number): number {
  for (;;) {
    if (sp >= send) throw corruptInput('lz4', 'block ends inside a sequence');
    const token = src[sp++];
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do {
        if (sp >= send) throw corruptInput('lz4', 'block ends inside a literal length');
        b = src[sp++];
        lit += b;
      } while (b === 255);
    }
    if (lit > 0) {
      if (sp + lit > send) throw corruptInput('lz4', 'literals run past the end of the block');
      if (dp + lit > dstLimit) throw corruptInput('lz4', 'block decodes to more than the maximum block size');
      if (lit < 16) {
        for (let i = 0; i < lit; i++) dst[dp + i] = src[sp + i];
      } else {
        src.copy(dst, dp, sp, sp + lit);
      }
      sp += lit;
      dp += lit;
    }
    if (sp === send) return dp; // the last sequence: literals only
    if (sp + 2 > send) throw corruptInput('lz4', 'block ends inside a match offset');
    const offset = src[sp] | (src[sp + 1] << 8);
    sp += 2;
    if (offset === 0 || dp - offset < lowBound) throw corruptInput('lz4', `match offset ${offset} reaches before the window`);
    let ml = token & 15;
    if (ml === 15) {
      let b: number;
      do {
        if (sp >= send) throw corruptInput('lz4', 'block ends inside a match length');
        b = src[sp++];
        ml += b;
      } while (b === 255);
    }
    ml += MIN_MATCH;
    if (dp + ml > dstLimit) throw corruptInput('lz4', 'block decodes to more than the maximum block size');
    let from = dp - offset;
    if (offset >= ml && ml >= 32) {
      dst.copyWithin(dp, from, from + ml);
      dp += ml;
    } else {
      // Short or overlapping (offset < length repeats the last `offset` bytes): byte by byte.
      const end = dp + ml;
      while (dp < end) dst[dp++] = dst[from++];
    }
  }
}
