/**
 * The pure-TypeScript backend's compression codecs (the native backend has its own in
 * native/src/compress/, on zlib, liblz4, libzstd and libsnappy; both write what the Java
 * client writes, and read what any Kafka client writes).
 *
 *   codec   form on the wire                          implementation here
 *   gzip    one gzip member                           node:zlib (no package)
 *   snappy  xerial-framed snappy (raw read too)       snappyjs + our xerial framing (snappy.ts)
 *   lz4     LZ4 frame, 64 KiB independent blocks      lz4-wasm-nodejs + our frame (lz4.ts)
 *   zstd    one zstd frame                            @bokuweb/zstd-wasm (zstd.ts)
 *
 * Why these packages (checked with `npm view` and by measuring, November 2026). We wanted
 * each codec from one small, maintained package with no dependencies and no native build,
 * so that `npm install` never compiles anything for them and they work wherever Node runs:
 *
 * - snappyjs 0.7.0 (MIT): pure JavaScript port of Google's snappy, no dependencies, about
 *   50 KB, last published December 2024, the most used snappy package that is not a native
 *   addon (about 3 M downloads a month). It does raw blocks only; the xerial framing is ours.
 *   The alternatives are native addons (snappy: napi-rs prebuilt binaries) or WebAssembly
 *   builds with fewer users (snappy-wasm).
 * - lz4-wasm-nodejs 0.9.2 (MIT): lz4_flex (Rust) built to WebAssembly, a 25 KB module that
 *   loads synchronously, no dependencies; about 1.1 GB/s on 16 KiB JSON batches here against
 *   about 0.44 GB/s for lz4js, the pure-JavaScript choice. lz4js also writes frames, but with
 *   dependent blocks (which the Java client refuses) and a block encoder that can start a
 *   match within the last 12 bytes of a block (the LZ4 spec forbids it, and liblz4's decoder
 *   may refuse such a block when it fills the whole 64 KiB). lz4-napi and lz4 are native addons.
 *   lz4-wasm-nodejs only does blocks (with a length prefix), so the frame and the decoder are
 *   ours.
 * - @bokuweb/zstd-wasm 0.0.27 (MIT): the zstd C library compiled to WebAssembly (a 250 KB
 *   module), no dependencies, CommonJS, published January 2026, takes compression levels
 *   (negative ones too). Its module instantiates asynchronously, hence initCodecs(). Others:
 *   @hpcc-js/wasm-zstd is ESM-only and logs instead of throwing on compression errors;
 *   zstd-codec is 2 MB and unmaintained; fzstd only decompresses; zstd-napi and
 *   @mongodb-js/zstd are native addons.
 *
 * Packages are required lazily, when a codec is first asked for, so kafka-turbo loads without
 * them; a missing one becomes a clear error naming the package (packages.ts).
 */

import { CodecId } from '../backend/types.js';
import type { Codec } from './codec.js';
import { createGzipCodec } from './gzip.js';
import type { CodecName } from './levels.js';
import { createLz4Codec } from './lz4.js';
import { defaultPackageLoader, type PackageLoader } from './packages.js';
import { createSnappyCodec } from './snappy.js';
import { createZstdCodec, type ZstdCodec } from './zstd.js';

export type { Codec } from './codec.js';
export { GZIP_EFFECTIVE_DEFAULT_LEVEL, LEVELS, validateLevel } from './levels.js';
export type { CodecName, LevelRange, LeveledCodecName } from './levels.js';
export { CODEC_PACKAGES, CODEC_UNAVAILABLE, MAX_DECOMPRESSED_BYTES } from './packages.js';
export type { PackageLoader } from './packages.js';

const NAMES: Readonly<Record<number, CodecName>> = {
  [CodecId.Gzip]: 'gzip',
  [CodecId.Snappy]: 'snappy',
  [CodecId.Lz4]: 'lz4',
  [CodecId.Zstd]: 'zstd',
};

/** The codec name of a record-batch codec id ('gzip' for 1, ...). Throws for None and unknown ids. */
export function codecName(id: CodecId): CodecName {
  const name = NAMES[id];
  if (name === undefined) {
    throw new RangeError(
      id === CodecId.None
        ? 'CodecId.None (0) has no codec: the records are stored as they are'
        : `Unknown compression codec id ${String(id)}: record batch attributes bits 0..2 hold 0 (none), 1 (gzip), 2 (snappy), 3 (lz4) or 4 (zstd)`,
    );
  }
  return name;
}

/** Codecs built with the default loader, kept: each holds its package and scratch buffers. */
const cache = new Map<CodecId, Codec>();

function create(id: CodecId, load: PackageLoader): Codec {
  switch (codecName(id)) {
    case 'gzip':
      return createGzipCodec();
    case 'snappy':
      return createSnappyCodec(load);
    case 'lz4':
      return createLz4Codec(load);
    case 'zstd':
      return createZstdCodec(load);
  }
}

/**
 * The codec for a record-batch codec id. Loads its npm package the first time and throws a
 * non-retriable error (code 'CODEC_UNAVAILABLE') naming the package and the install command
 * when it is missing. `load` replaces `require` (tests simulate a missing package with it);
 * codecs built with a custom loader are not cached.
 *
 * The zstd codec also needs `await initCodecs()` once before use.
 */
export function codecFor(id: CodecId, load?: PackageLoader): Codec {
  if (load !== undefined && load !== defaultPackageLoader) return create(id, load);
  let codec = cache.get(id);
  if (codec === undefined) {
    codec = create(id, defaultPackageLoader);
    cache.set(id, codec);
  }
  return codec;
}

/**
 * Prepares the codecs that need asynchronous set-up (today zstd, whose WebAssembly module
 * compiles asynchronously); the producer awaits it once, at connect. Without `codecs` it
 * prepares every codec whose package is installed and skips the missing ones; with `codecs`
 * it prepares those and rejects (naming the package) when one cannot load. Safe to call again.
 */
export async function initCodecs(codecs?: readonly CodecId[], load?: PackageLoader): Promise<void> {
  const wanted = codecs ?? [CodecId.Zstd];
  for (const id of wanted) {
    if (id !== CodecId.Zstd) continue;
    let codec: Codec;
    try {
      codec = codecFor(id, load);
    } catch (e) {
      if (codecs === undefined) continue; // not asked for by name: missing is fine
      throw e;
    }
    await (codec as ZstdCodec).init();
  }
}

/** Names of the codecs whose packages load here (gzip always), for backendInfo().codecs. */
export function availableCodecs(load?: PackageLoader): CodecName[] {
  const names: CodecName[] = [];
  for (const id of [CodecId.Gzip, CodecId.Snappy, CodecId.Lz4, CodecId.Zstd]) {
    try {
      codecFor(id, load);
      names.push(codecName(id));
    } catch {
      // not installed: reported by codecFor() when it is asked for
    }
  }
  return names;
}
