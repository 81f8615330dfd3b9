/**
 * snappy (codec 2). Kafka's Java client writes snappy through xerial's SnappyOutputStream, so
 * that framing is what brokers and consumers expect to see:
 *
 *   header  = 0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00   magic (8 bytes)
 *             int32 BE version = 1
 *             int32 BE minimum compatible version = 1
 *   chunk*  = int32 BE compressed length, then one raw snappy block
 *             (each block holds at most 32 KiB of input, SnappyOutputStream's default)
 *
 * Empty input is the header alone. Other clients (librdkafka when asked to, old Go and
 * Python clients) send one raw snappy block with no framing; every consumer accepts both, so
 * decompress() does too: input that does not open with the magic is read as a raw block.
 * Concatenated xerial streams (a header again where a chunk length is expected) are accepted,
 * as xerial's SnappyInputStream does.
 *
 * The raw block format (varint length, then literals and copies) comes from snappyjs, a
 * pure-JavaScript port of Google's snappy; only the framing is ours.
 */

import { CodecId } from '../backend/types.js';
import type { Codec } from './codec.js';
import { validateLevel } from './levels.js';
import { corruptInput, loadCodecPackage, MAX_DECOMPRESSED_BYTES, SCRATCH_MAX, type PackageLoader } from './packages.js';

/** What we use of snappyjs. */
export interface SnappyBlockPackage {
  compress(input: Buffer): Buffer;
  uncompress(input: Buffer, maxLength?: number): Buffer;
}

function isSnappyBlockPackage(m: unknown): m is SnappyBlockPackage {
  const p = m as Partial<SnappyBlockPackage> | null;
  return !!p && typeof p.compress === 'function' && typeof p.uncompress === 'function';
}

export const XERIAL_MAGIC: Readonly<Buffer> = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
export const XERIAL_HEADER_SIZE = 16;
export const XERIAL_VERSION = 1;
export const XERIAL_MIN_COMPATIBLE_VERSION = 1;
/** Uncompressed bytes per chunk: SnappyOutputStream.DEFAULT_BLOCK_SIZE. */
export const XERIAL_BLOCK_SIZE = 32 * 1024;

/** True when `data` opens with xerial's 8-byte magic (and is long enough for its header). */
export function isXerialFramed(data: Uint8Array): boolean {
  if (data.length < XERIAL_HEADER_SIZE) return false;
  for (let i = 0; i < XERIAL_MAGIC.length; i++) if (data[i] !== XERIAL_MAGIC[i]) return false;
  return true;
}

function writeXerialHeader(out: Buffer, at: number): number {
  XERIAL_MAGIC.copy(out, at);
  out.writeInt32BE(XERIAL_VERSION, at + 8);
  out.writeInt32BE(XERIAL_MIN_COMPATIBLE_VERSION, at + 12);
  return at + XERIAL_HEADER_SIZE;
}

/** Largest snappy block for n input bytes (snappy's MaxCompressedLength). */
function maxBlockSize(n: number): number {
  return 32 + n + Math.floor(n / 6);
}

/** Reads a raw snappy block's uncompressed length (its leading varint), or -1 when malformed. */
function rawUncompressedLength(data: Uint8Array, start: number, end: number): number {
  let result = 0;
  let shift = 0;
  for (let p = start; p < end && shift <= 28; p++, shift += 7) {
    const b = data[p];
    result += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return result;
  }
  return -1;
}

/** Framing around a raw block implementation (snappyjs; tests may pass another). */
export function createSnappyCodecWith(block: SnappyBlockPackage): Codec {
  let scratch = Buffer.allocUnsafe(0);

  function uncompressBlock(data: Buffer, what: string): Buffer {
    const n = rawUncompressedLength(data, 0, data.length);
    if (n < 0) throw corruptInput('snappy', `${what}: bad uncompressed-length varint`);
    if (n > MAX_DECOMPRESSED_BYTES) {
      throw corruptInput('snappy', `${what} claims ${n} bytes, over the ${MAX_DECOMPRESSED_BYTES}-byte limit`);
    }
    try {
      return block.uncompress(data, n);
    } catch (e) {
      throw corruptInput('snappy', `${what}: ${e instanceof Error ? e.message : String(e)}`, e);
    }
  }

  return {
    id: CodecId.Snappy,
    name: 'snappy',
    compress(data: Buffer, level?: number): Buffer {
      validateLevel('snappy', level);
      const chunks = Math.ceil(data.length / XERIAL_BLOCK_SIZE);
      const bound = XERIAL_HEADER_SIZE + chunks * 4 + maxBlockSize(data.length) + chunks * 32;
      // Kept between calls up to 1 MiB (batches are smaller than that); larger inputs get their own.
      if (scratch.length < bound && bound <= SCRATCH_MAX) scratch = Buffer.allocUnsafe(Math.max(bound, 64 * 1024));
      const out = bound <= scratch.length ? scratch : Buffer.allocUnsafe(bound);
      let pos = writeXerialHeader(out, 0);
      for (let off = 0; off < data.length; off += XERIAL_BLOCK_SIZE) {
        const c = block.compress(data.subarray(off, Math.min(off + XERIAL_BLOCK_SIZE, data.length)));
        out.writeInt32BE(c.length, pos);
        out.set(c, pos + 4);
        pos += 4 + c.length;
      }
      // A copy of the exact size: scratch is reused by the next call.
      return Buffer.from(out.subarray(0, pos));
    },
    decompress(data: Buffer): Buffer {
      if (!isXerialFramed(data)) return uncompressBlock(data, 'raw snappy block');
      const parts: Buffer[] = [];
      let total = 0;
      let pos = 0;
      while (pos < data.length) {
        if (isXerialFramed(data.subarray(pos))) {
          const compatible = data.readInt32BE(pos + 12);
          if (compatible > XERIAL_VERSION) {
            throw corruptInput('snappy', `xerial stream needs reader version ${compatible}; this reader is version ${XERIAL_VERSION}`);
          }
          pos += XERIAL_HEADER_SIZE;
          continue;
        }
        if (pos + 4 > data.length) throw corruptInput('snappy', `truncated xerial chunk length at offset ${pos}`);
        const len = data.readInt32BE(pos);
        pos += 4;
        if (len <= 0 || len > data.length - pos) {
          throw corruptInput('snappy', `xerial chunk at offset ${pos - 4} has length ${len}, ${data.length - pos} bytes left`);
        }
        const part = uncompressBlock(data.subarray(pos, pos + len), `xerial chunk at offset ${pos - 4}`);
        total += part.length;
        if (total > MAX_DECOMPRESSED_BYTES) throw corruptInput('snappy', `output over the ${MAX_DECOMPRESSED_BYTES}-byte limit`);
        parts.push(part);
        pos += len;
      }
      return parts.length === 1 ? parts[0] : Buffer.concat(parts, total);
    },
  };
}

export function createSnappyCodec(load: PackageLoader): Codec {
  return createSnappyCodecWith(loadCodecPackage('snappy', load, isSnappyBlockPackage));
}
