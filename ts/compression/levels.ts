/**
 * Compression levels, with the Java producer's ranges and defaults (KIP-390, Kafka 3.8+):
 *
 *   compression.gzip.level   1..9, default -1 (Deflater.DEFAULT_COMPRESSION: zlib picks 6);
 *                            -1 is also accepted when given explicitly, as Java does
 *   compression.lz4.level    1..17, default 9 (the Java client compresses its default level with
 *                            lz4's fast compressor and every other level with lz4 HC)
 *   compression.zstd.level   -131072..22, default 3 (ZSTD_minCLevel() .. ZSTD_maxCLevel())
 *
 * snappy has no level. Levels are checked here, in TypeScript, before they reach a backend
 * (the native codecs check them again, so a bad level never reaches a C library).
 */

import { ConfigError } from '../errors.js';

export type CodecName = 'gzip' | 'snappy' | 'lz4' | 'zstd';
export type LeveledCodecName = Exclude<CodecName, 'snappy'>;

export interface LevelRange {
  readonly min: number;
  readonly max: number;
  /** What the Java client uses when the level is not configured. */
  readonly default: number;
}

export const LEVELS: { readonly [K in LeveledCodecName]: LevelRange } = Object.freeze({
  gzip: Object.freeze({ min: 1, max: 9, default: -1 }),
  lz4: Object.freeze({ min: 1, max: 17, default: 9 }),
  zstd: Object.freeze({ min: -131072, max: 22, default: 3 }),
});

/** The level zlib uses for gzip's default (-1). */
export const GZIP_EFFECTIVE_DEFAULT_LEVEL = 6;

/**
 * Checks `level` for `codec` and returns the level to compress with: the codec's default when
 * `level` is undefined, else `level` itself. For snappy it returns 0 (snappy has no level) and
 * refuses any level other than undefined or 0. Otherwise throws a ConfigError naming the Java
 * configuration key and the valid range.
 */
export function validateLevel(codec: CodecName, level: number | undefined): number {
  if (codec === 'snappy') {
    // 0 is what this function returns for snappy, so passing its result back in is fine.
    if (level === undefined || level === 0) return 0;
    throw new ConfigError(`Invalid compression level ${String(level)} for snappy: snappy has no compression level`);
  }
  const range = LEVELS[codec];
  if (range === undefined) {
    throw new ConfigError(`Unknown compression codec ${JSON.stringify(codec)}: expected gzip, snappy, lz4 or zstd`);
  }
  if (level === undefined) return range.default;
  const key = `compression.${codec}.level`;
  if (typeof level !== 'number' || !Number.isInteger(level)) {
    throw new ConfigError(`Invalid value ${JSON.stringify(level)} for configuration ${key}: expected an integer`);
  }
  if ((level < range.min || level > range.max) && level !== range.default) {
    throw new ConfigError(
      `Invalid value ${level} for configuration ${key}: ${codec} levels are ${range.min}..${range.max} (default ${range.default})`,
    );
  }
  return level;
}
