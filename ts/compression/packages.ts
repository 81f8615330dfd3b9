/**
 * Loads the npm packages behind the pure-TypeScript codecs, lazily: kafka-turbo must load,
 * and produce uncompressed or gzip batches, on an install where an optional codec package is
 * missing. A missing package becomes one error, at the moment its codec is asked for, that
 * names the package and the command that installs it.
 */

import { KafkaJSNonRetriableError } from '../errors.js';
import type { CodecName } from './levels.js';

/** How a package is loaded: `require` in production; tests pass their own to simulate a
 * missing package. */
export type PackageLoader = (packageName: string) => unknown;

/** The package each codec needs (gzip needs none: it is node:zlib) and the version range
 * package.json asks for. */
export const CODEC_PACKAGES: { readonly [K in Exclude<CodecName, 'gzip'>]: { name: string; range: string } } =
  Object.freeze({
    snappy: Object.freeze({ name: 'snappyjs', range: '^0.7.0' }),
    lz4: Object.freeze({ name: 'lz4-wasm-nodejs', range: '^0.9.2' }),
    zstd: Object.freeze({ name: '@bokuweb/zstd-wasm', range: '^0.0.27' }),
  });

export const defaultPackageLoader: PackageLoader = (packageName) => require(packageName) as unknown;

/** The error code of CodecUnavailable errors, for callers that branch on `err.code`. */
export const CODEC_UNAVAILABLE = 'CODEC_UNAVAILABLE';

/** Loads `codec`'s package or throws a non-retriable error naming it, with the loader's error as
 * `cause`. `check` verifies the package's shape (a package that loads but is not what we
 * expect, e.g. another major version, is refused the same way). */
export function loadCodecPackage<T>(
  codec: Exclude<CodecName, 'gzip'>,
  load: PackageLoader,
  check: (mod: unknown) => mod is T,
): T {
  const { name, range } = CODEC_PACKAGES[codec];
  let mod: unknown;
  try {
    mod = load(name);
  } catch (e) {
    const missing = (e as { code?: unknown }).code === 'MODULE_NOT_FOUND';
    throw new KafkaJSNonRetriableError(
      `${codec} compression needs the npm package ${name}, which ${missing ? 'is not installed' : 'could not be loaded'}` +
        ` (${e instanceof Error ? e.message.split('\n')[0] : String(e)}). Install it with: npm install ${name}@${range}`,
      { code: CODEC_UNAVAILABLE, cause: e },
    );
  }
  if (!check(mod)) {
    throw new KafkaJSNonRetriableError(
      `${codec} compression: the npm package ${name} loaded but does not have the functions kafka-turbo calls;` +
        ` install a supported version with: npm install ${name}@${range}`,
      { code: CODEC_UNAVAILABLE },
    );
  }
  return mod;
}

/** The error every codec throws for input it cannot decompress. */
export function corruptInput(codec: CodecName, why: string, cause?: unknown): KafkaJSNonRetriableError {
  return new KafkaJSNonRetriableError(`${codec}: cannot decompress: ${why}`, {
    code: 'CORRUPT_COMPRESSED_DATA',
    cause,
  });
}

/** Upper bound on what one decompress() call returns, so that a corrupt or hostile length
 * field cannot make us allocate without limit. Far above any record batch Kafka accepts
 * (message.max.bytes defaults to about 1 MiB). */
export const MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024;

/** The largest scratch buffer a codec keeps between compress() calls. */
export const SCRATCH_MAX = 1024 * 1024 + 64 * 1024;
