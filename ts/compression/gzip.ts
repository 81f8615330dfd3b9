/**
 * gzip (codec 1): one gzip member (RFC 1952) holding the records, as the Java client's
 * GZIPOutputStream writes. node:zlib is zlib itself, so no package is needed.
 * Decompression accepts several concatenated members, as Java's GZIPInputStream does.
 */

import { gunzipSync, gzipSync } from 'node:zlib';
import { CodecId } from '../backend/types.js';
import type { Codec } from './codec.js';
import { validateLevel } from './levels.js';
import { corruptInput, MAX_DECOMPRESSED_BYTES } from './packages.js';

export function createGzipCodec(): Codec {
  return {
    id: CodecId.Gzip,
    name: 'gzip',
    compress(data: Buffer, level?: number): Buffer {
      // -1 is zlib's Z_DEFAULT_COMPRESSION (level 6), which node:zlib takes as it is.
      return gzipSync(data, { level: validateLevel('gzip', level) });
    },
    decompress(data: Buffer): Buffer {
      try {
        return gunzipSync(data, { maxOutputLength: MAX_DECOMPRESSED_BYTES });
      } catch (e) {
        throw corruptInput('gzip', e instanceof Error ? e.message : String(e), e);
      }
    },
  };
}
