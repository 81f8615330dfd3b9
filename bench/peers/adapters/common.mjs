// What the adapters share: the installed version of a package, the KafkaJS-shaped result check.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** The version in an installed package's package.json, found from its entry point (no load). */
export function pkgVersion(name) {
  let dir;
  try {
    dir = dirname(require.resolve(name));
  } catch {
    return null;
  }
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (pkg.name === name) return String(pkg.version).replace(/^v/, '');
    } catch {
      // keep walking up
    }
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/** Throws unless a KafkaJS-shaped send() result has an error-free entry with an offset per partition. */
export function checkKafkajsResult(r, topic) {
  if (!Array.isArray(r) || r.length === 0) throw new Error(`send returned no result: ${JSON.stringify(r)}`);
  for (const md of r) {
    if ((md.errorCode ?? 0) !== 0 || !(Number(md.baseOffset ?? md.offset) >= 0) || (md.topicName ?? topic) !== topic) {
      throw new Error(`bad send result ${JSON.stringify(md)}`);
    }
  }
}

/** KafkaJS's CompressionTypes key per codec name (kafka-turbo's facade and confluent's use the same). */
export const KAFKAJS_CODEC_KEY = { none: 'None', gzip: 'GZIP', snappy: 'Snappy', lz4: 'LZ4', zstd: 'ZSTD' };
