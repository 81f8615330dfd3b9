/**
 * zstd (codec 4): one Zstandard frame (RFC 8878) holding the records. The Java client writes
 * it with zstd-jni's streaming ZstdOutputStream, so its frames carry no content size;
 * ours (ZSTD_compress) do. Both are plain zstd frames that every reader takes.
 *
 * The codec is @bokuweb/zstd-wasm: the zstd C library compiled to WebAssembly. Compiling and
 * instantiating its module is asynchronous, so it must be initialised once (ZstdCodec.init(),
 * called by initCodecs() in index.ts, which the producer awaits at connect) before compress() and
 * decompress(), which are synchronous after that. Called earlier, they throw saying so.
 *
 * The package's decompress() sizes its output from the frame's content size, or from a
 * caller's guess when the frame has none; a guess too small fails. So decompress() here walks
 * the frames' block headers first (without decoding anything) to get each frame's exact extent
 * and an upper bound of its output, then decodes frame by frame with that bound.
 */

import { CodecId } from '../backend/types.js';
import type { Codec } from './codec.js';
import { validateLevel } from './levels.js';
import { corruptInput, loadCodecPackage, MAX_DECOMPRESSED_BYTES, type PackageLoader } from './packages.js';
import { KafkaJSNonRetriableError } from '../errors.js';

/** What we use of @bokuweb/zstd-wasm. */
export interface ZstdWasmPackage {
  init(): Promise<void>;
  compress(input: Uint8Array, level?: number): Uint8Array;
  decompress(input: Uint8Array, opts?: { defaultHeapSize: number }): Uint8Array;
}

function isZstdWasmPackage(m: unknown): m is ZstdWasmPackage {
  const p = m as Partial<ZstdWasmPackage> | null;
  return !!p && typeof p.init === 'function' && typeof p.compress === 'function' && typeof p.decompress === 'function';
}

const ZSTD_MAGIC = 0xfd2fb528;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
/** A compressed block never decodes to more than this (ZSTD_BLOCKSIZE_MAX). */
const BLOCK_SIZE_MAX = 128 * 1024;

interface FrameExtent {
  start: number;
  end: number;
  /** Upper bound of the frame's decompressed size (exact when the frame declares it). */
  outputBound: number;
  /** False for skippable frames. */
  data: boolean;
}

/** Walks data's frames: their extents and output bounds. Throws on malformed or truncated input. */
export function zstdFrames(data: Uint8Array): FrameExtent[] {
  const view = Buffer.from(data.buffer, data.byteOffset, data.length);
  const frames: FrameExtent[] = [];
  let pos = 0;
  if (data.length === 0) throw corruptInput('zstd', 'empty input');
  while (pos < data.length) {
    const start = pos;
    if (pos + 4 > data.length) throw corruptInput('zstd', `truncated frame magic at offset ${pos}`);
    const magic = view.readUInt32LE(pos);
    if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      if (pos + 8 > data.length) throw corruptInput('zstd', 'truncated skippable frame');
      const end = pos + 8 + view.readUInt32LE(pos + 4);
      if (end > data.length) throw corruptInput('zstd', 'truncated skippable frame');
      frames.push({ start, end, outputBound: 0, data: false });
      pos = end;
      continue;
    }
    if (magic !== ZSTD_MAGIC) {
      throw corruptInput('zstd', `bad frame magic 0x${magic.toString(16).padStart(8, '0')} at offset ${pos} (expected 0xfd2fb528)`);
    }
    pos += 4;
    if (pos >= data.length) throw corruptInput('zstd', 'truncated frame header');
    const fhd = data[pos++];
    const fcsFlag = fhd >>> 6;
    const singleSegment = (fhd & 0x20) !== 0;
    const contentChecksum = (fhd & 0x04) !== 0;
    const didSize = [0, 1, 2, 4][fhd & 3];
    const fcsSize = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag];
    const headerRest = (singleSegment ? 0 : 1) + didSize + fcsSize;
    if (pos + headerRest > data.length) throw corruptInput('zstd', 'truncated frame header');
    pos += (singleSegment ? 0 : 1) + didSize;
    let contentSize = -1;
    if (fcsSize === 1) contentSize = data[pos];
    else if (fcsSize === 2) contentSize = view.readUInt16LE(pos) + 256;
    else if (fcsSize === 4) contentSize = view.readUInt32LE(pos);
    else if (fcsSize === 8) {
      const big = view.readBigUInt64LE(pos);
      contentSize = big > BigInt(MAX_DECOMPRESSED_BYTES) ? Infinity : Number(big);
    }
    pos += fcsSize;
    let bound = 0;
    for (;;) {
      if (pos + 3 > data.length) throw corruptInput('zstd', `truncated block header at offset ${pos}`);
      const header = data[pos] | (data[pos + 1] << 8) | (data[pos + 2] << 16);
      pos += 3;
      const last = header & 1;
      const type = (header >>> 1) & 3;
      const size = header >>> 3;
      if (type === 3) throw corruptInput('zstd', `reserved block type at offset ${pos - 3}`);
      const stored = type === 1 ? 1 : size; // RLE: one byte repeated `size` times
      if (pos + stored > data.length) throw corruptInput('zstd', `truncated block at offset ${pos - 3}`);
      bound += type === 2 ? BLOCK_SIZE_MAX : size;
      pos += stored;
      if (last) break;
    }
    if (contentChecksum) {
      if (pos + 4 > data.length) throw corruptInput('zstd', 'truncated content checksum');
      pos += 4;
    }
    const outputBound = contentSize >= 0 ? contentSize : bound;
    if (outputBound > MAX_DECOMPRESSED_BYTES) {
      throw corruptInput('zstd', `frame decodes to more than the ${MAX_DECOMPRESSED_BYTES}-byte limit`);
    }
    frames.push({ start, end: pos, outputBound, data: true });
  }
  return frames;
}

export interface ZstdCodec extends Codec {
  /** Resolves when the WebAssembly module is ready (at once after the first time). */
  init(): Promise<void>;
  readonly ready: boolean;
}

function toBuffer(u8: Uint8Array): Buffer {
  return Buffer.from(u8.buffer, u8.byteOffset, u8.length);
}

/** Per package module (not per codec object): the WebAssembly module must be instantiated
 * once; a second init() of @bokuweb/zstd-wasm would swap in a new instance under live codecs. */
const initStates = new WeakMap<ZstdWasmPackage, { promise: Promise<void> | null; ready: boolean }>();

function initState(pkg: ZstdWasmPackage): { promise: Promise<void> | null; ready: boolean } {
  let state = initStates.get(pkg);
  if (state === undefined) {
    state = { promise: null, ready: false };
    initStates.set(pkg, state);
  }
  return state;
}

export function createZstdCodecWith(pkg: ZstdWasmPackage): ZstdCodec {
  const state = initState(pkg);

  function ensureReady(): void {
    if (!state.ready) {
      throw new KafkaJSNonRetriableError(
        'zstd codec used before it was initialised: await initCodecs() once (the producer does it when it' +
          ' connects) before compressing or decompressing zstd',
        { code: 'CODEC_NOT_INITIALIZED' },
      );
    }
  }

  return {
    id: CodecId.Zstd,
    name: 'zstd',
    get ready() {
      return state.ready;
    },
    init(): Promise<void> {
      state.promise ??= pkg.init().then(
        () => {
          state.ready = true;
        },
        (e: unknown) => {
          state.promise = null; // let a later call try again
          throw new KafkaJSNonRetriableError(`zstd: the WebAssembly module failed to initialise: ${String(e)}`, {
            code: 'CODEC_UNAVAILABLE',
            cause: e,
          });
        },
      );
      return state.promise;
    },
    compress(data: Buffer, level?: number): Buffer {
      const l = validateLevel('zstd', level);
      ensureReady();
      return toBuffer(pkg.compress(data, l));
    },
    decompress(data: Buffer): Buffer {
      ensureReady();
      const frames = zstdFrames(data);
      const parts: Buffer[] = [];
      let total = 0;
      for (const f of frames) {
        if (!f.data) continue;
        let part: Buffer;
        try {
          // The package rejects a zero-size buffer; a bound of 0 means an empty frame.
          part = toBuffer(pkg.decompress(data.subarray(f.start, f.end), { defaultHeapSize: Math.max(1, f.outputBound) }));
        } catch (e) {
          throw corruptInput('zstd', `frame at offset ${f.start}: ${e instanceof Error ? e.message : String(e)}`, e);
        }
        total += part.length;
        if (total > MAX_DECOMPRESSED_BYTES) throw corruptInput('zstd', `output over the ${MAX_DECOMPRESSED_BYTES}-byte limit`);
        parts.push(part);
      }
      return parts.length === 1 ? parts[0] : Buffer.concat(parts, total);
    },
  };
}

export function createZstdCodec(load: PackageLoader): ZstdCodec {
  return createZstdCodecWith(loadCodecPackage('zstd', load, isZstdWasmPackage));
}
