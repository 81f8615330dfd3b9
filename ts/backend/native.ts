/**
 * The native addon, typed. This module only finds and loads the compiled addon and states
 * its shape; choosing between native and fallback (and keeping the reasons) is load.ts's
 * job, and the Backend built on top of the addon adds no logic of its own.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CreateRing } from '../net/transport-uring.js';
import type { AccumulatorConfig, BatchHeaderInput, BufferPool, RecordAccumulator, RecordInput } from './types.js';

/**
 * The addon's fast paths take records packed by JavaScript (native/src/binding/bindings.h,
 * PackedScratch and RecordUnpacker): Node-API reads a property in tens of nanoseconds,
 * JavaScript in a few, and every typed array handed over costs a lookup, so the adapter
 * lays the records out in one Uint8Array `scratch`:
 *   scratch[0, 8 * metaCapacity)  float64 slots; per record: timestamp, keyLen, valueLen,
 *                                 headerCount, then headerKeyLen, headerValueLen per header
 *   scratch[8 * metaCapacity, ..) the fields' bytes in that order, back to back (header keys
 *                                 UTF-8)
 *   bigs                          fields passed by reference instead of copied
 * A length >= 0 takes that many bytes, -1 is null, -2 - i is bigs[i]. The slots also carry
 * numbers in and back (see each method). The addon checks every length and offset.
 */

/** The addon's RecordAccumulator: the Backend shape, plus the packed fast paths, which take
 * their numbers in the scratch's first slots (reading a slot costs nothing, an argument a
 * few nanoseconds). */
export interface NativeRecordAccumulator extends RecordAccumulator {
  /** append() with the records packed in scratch. Slots in: [0] metaCapacity, [1] partition,
   * [2] nowMs, [3] record count, [4] bigs.length, records' meta from slot 5. Slots out:
   * [0] records taken, [1] number of batches they went into, then [2 + 2i] / [3 + 2i] each
   * batch's id and record count. */
  appendPacked(scratch: Uint8Array, bigs: Uint8Array[] | null): void;
  /** appendPacked() with each record appended as a call of its own (Backend appendEach). */
  appendPackedEach(scratch: Uint8Array, bigs: Uint8Array[] | null): void;
  /** drain() with the stamp's numbers in scratch. Slots in: [0] metaCapacity, [1] n (count
   * of partitions), [2] maxBytes, [3] producerEpoch, [4] transactional (0/1), [5] base
   * sequences given (0/1), the partitions from slot 6 and the sequences after them. Slots
   * out: [0] batches drained, then [1 + 6i .. 6 + 6i] batch i's id, partition, record count,
   * createdMs, the offset of its bytes in the scratch's byte area (-1: not there) and its
   * size. A small batch (under memoryStats().drainCopyBelow) that fits is copied into the
   * byte area; the others are Buffers at their index in the returned array, which is
   * undefined when there are none. With `hold` (the io_uring transport) those others stay in
   * native memory instead: their offset slot is -2 - ref (heldBatchBuffer, restampHeldBatch,
   * the ring's write; native/src/binding/held_batches.h), until complete() of their id.
   * Needs metaCapacity >= max(6 + 2n, 1 + 6n). */
  drainPacked(scratch: Uint8Array, producerId: bigint, hold?: boolean): (Buffer | undefined)[] | undefined;
  /** ready() with its numbers in scratch. Slots in: [0] metaCapacity, [1] nowMs, [2] flushing
   * (0/1). Slots out: [0] count of ready partitions, [1] nextReadyInMs, then the partitions
   * from slot 2; when they do not fit, they are returned as an array instead. */
  readyPacked(scratch: Uint8Array): number[] | undefined;
  /** complete() with the results in scratch. Slots in: [0] metaCapacity, [1] n, then
   * [2 + 2i] batch id and [3 + 2i] error code (0 completes) of result i. */
  completePacked(scratch: Uint8Array): void;
}

/** What the kafka_turbo addon exports (native/src/binding/, one file per member). */
export interface NativeAddon {
  /** CRC32C (Castagnoli) of buf, continuing from `init` (0 to start); unsigned 32-bit. */
  crc32c(buf: Uint8Array, init?: number): number;
  /** The CRC32C level the addon picked at load (CPUID on x86-64, getauxval(AT_HWCAP) on
   * Linux arm64, or KAFKA_TURBO_CRC32C). */
  crc32cImpl(): 'avx512-vpclmul' | 'sse42' | 'armv8-crc' | 'table';
  /** Backend.encodeRecordBatch, reading the record objects through Node-API. */
  encodeRecordBatch(records: readonly RecordInput[], header: BatchHeaderInput): Buffer;
  /** Backend.encodeRecordBatch with `count` records packed in scratch (see above). */
  encodeRecordBatchPacked(
    count: number,
    scratch: Uint8Array,
    metaCapacity: number,
    bigs: Uint8Array[] | null,
    header: BatchHeaderInput,
  ): Buffer;
  /** A held batch's bytes as a Buffer over its native memory (the Buffer keeps it alive);
   * throws a RangeError when nothing is held under `ref`. */
  heldBatchBuffer(ref: number): Buffer;
  /** Rewrites a held batch's producer id, epoch, base sequence and CRC32C natively (a copy
   * when a ring write or a Buffer still reads the old bytes). */
  restampHeldBatch(ref: number, producerId: bigint, producerEpoch: number, baseSequence: number): void;
  /** Backend.createAccumulator. */
  createAccumulator(config: AccumulatorConfig): NativeRecordAccumulator;
  /** What the addon holds now (tests, diagnostics): bytes reported to V8 with
   * napi_adjust_external_memory by all accumulators of the process (externalBytes) and by
   * drained batches' Buffers not yet collected (bufferBytes), the compression pool's threads
   * and their limit, and malloc's bytes in use (mallinfo2; -1 without glibc). */
  memoryStats(): {
    externalBytes: number;
    bufferBytes: number;
    /** Held batches (drainPacked with hold) whose memory is not freed yet. */
    heldBatches: number;
    compressThreads: number;
    compressThreadLimit: number;
    /** Drained batches of fewer bytes are copied into their Buffers (not counted in
     * bufferBytes); larger ones are external Buffers over the accumulator's block. */
    drainCopyBelow: number;
    mallocBytes: number;
  };
  /** Backend.createBufferPool: a native budget behind an opaque, type-tagged object. */
  createBufferPool(totalBytes: number): BufferPool;
  /** Linux builds only (native/src/binding/uring.cc): null when io_uring works here, else
   * what refused it, in one line. */
  ioUringProbe?(): string | null;
  /** Linux builds only: the io_uring ring the transport runs on (ts/net/transport-uring.ts). */
  createRing?: CreateRing;
}

/**
 * The package root: the nearest directory at or above this file's that holds both
 * package.json and binding.gyp. The compiled file runs from dist/cjs/backend/ (the
 * package) or out/ts/backend/ (tests and benches), so the depth is not fixed.
 */
function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'binding.gyp'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(`kafka-turbo: no directory with package.json and binding.gyp above ${__dirname}`);
    }
    dir = parent;
  }
}

/**
 * Loads the addon: a prebuilt binary from prebuilds/ or the local build in build/Release
 * (node-gyp-build's order). Throws what node-gyp-build or the addon's init threw, e.g. when
 * KAFKA_TURBO_CRC32C forces a level this CPU lacks (code ERR_KAFKA_TURBO_CRC32C_LEVEL).
 */
export function loadNativeAddon(): NativeAddon {
  // node-gyp-build ships no types; its default export is load(dir) => the module.
  const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
  return nodeGypBuild(packageRoot()) as NativeAddon;
}
