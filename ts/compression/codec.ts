/** The shape every codec has, whichever package or library is behind it. */

import type { CodecId } from '../backend/types.js';
import type { CodecName } from './levels.js';

export interface Codec {
  /** The record-batch attributes value (bits 0..2). */
  readonly id: CodecId;
  readonly name: CodecName;
  /**
   * Compresses `data` whole, in the form Kafka expects for this codec (see each codec's file).
   * Synchronous: the accumulator calls it while it encodes a batch at drain. `level` is checked
   * with validateLevel() (undefined: the Java client's default); snappy takes none.
   */
  compress(data: Buffer, level?: number): Buffer;
  /** Decompresses what this codec's compress() wrote, and what other Kafka clients write for
   * this codec. Throws a non-retriable error with code 'CORRUPT_COMPRESSED_DATA' on bad input. */
  decompress(data: Buffer): Buffer;
}
