/**
 * The pure-TypeScript backend: the same work as the native addon, byte for byte, for
 * machines where the addon cannot load. Chosen only by ts/backend/load.ts.
 */
import type { AccumulatorConfig, Backend, BufferPool, BackendInfo, BatchHeaderInput, RecordAccumulator, RecordInput } from '../types.js';
import { crc32c } from '../../protocol/crc32c.js';
import { encodeRecordBatch } from '../../protocol/record-batch.js';
import { FallbackAccumulator, FallbackBufferPool } from './accumulator.js';
import { availableCodecs } from '../../compression/index.js';

export function createFallbackBackend(info: Omit<BackendInfo, 'backend' | 'crc32c' | 'ioUring' | 'io' | 'ioReason' | 'codecs'>): Backend {
  return {
    info: {
      backend: 'fallback',
      crc32c: 'ts',
      ioUring: false,
      io: 'net',
      ioReason: 'node:net: the fallback backend has no io_uring transport',
      codecs: ['none', ...availableCodecs()], ...info },
    crc32c: (buf: Uint8Array, init = 0) => crc32c(buf, init),
    encodeRecordBatch: (records: readonly RecordInput[], header: BatchHeaderInput) => encodeRecordBatch(records, header, crc32c),
    createAccumulator: (config: AccumulatorConfig): RecordAccumulator => new FallbackAccumulator(config),
    createBufferPool: (totalBytes: number): BufferPool => new FallbackBufferPool(totalBytes),
  };
}
