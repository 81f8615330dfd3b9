/**
 * The native Backend: the addon's functions in the Backend shape (types.ts). The semantics
 * all live in the addon (native/src/core/); this module only adapts calls.
 *
 * The one thing it does besides forwarding is to marshal arguments for the addon's fast
 * paths (appendPacked, drainPacked, encodeRecordBatchPacked): Node-API reads an object's
 * property in tens of nanoseconds, JavaScript in a few, so for append() -- called once per
 * send() -- the record fields are read here and laid out in one scratch ArrayBuffer (see
 * native.ts), which the addon reads in one call; append() and drain() also pass their
 * numbers in it and get numbers back in it, and the result objects are made here. Small fields
 * are copied into the scratch; large ones are passed by reference, so their bytes are copied
 * once, into the batch. The addon checks every length and offset, so a malformed layout is
 * a TypeError, never a stray read.
 */
import { Buffer } from 'node:buffer';
import type {
  AccumulatorConfig,
  AppendResult,
  Backend,
  BatchHeaderInput,
  BatchResult,
  DrainStamp,
  DrainedBatch,
  RecordAccumulator,
  ReadyResult,
  RecordInput,
  RefusedCandidate,
} from './types.js';
import { loadNativeAddon, type NativeAddon } from './native.js';
import type { HeldRecords } from '../protocol/produce.js';
import type { Transport } from '../net/transport.js';
import { DEFAULT_RECV, UringTransport, type ProbeTaskRun, type RecvMode, type TaskRunMode } from '../net/transport-uring.js';

/** Fields at least this long are passed by reference instead of copied into the scratch:
 * below it a copy in JavaScript is cheaper than the addon fetching the Buffer (~45 ns). */
const BY_REFERENCE_BYTES = 1024;
/** Slots before the records' meta: appendPacked's and drainPacked's numbers (native.ts). */
const APPEND_SLOTS = 5;
const DRAIN_SLOTS = 6;
const COMPLETE_SLOTS = 2;
/** drainPacked's slots out per batch (after the count): id, partition, record count,
 * createdMs, offset in the scratch's byte area (-1: a Buffer), size. */
const DRAIN_OUT_SLOTS = 6;
/** Scratch sizes to start with, and past which a call's growth is not kept. */
const INITIAL_SLOTS = 4096;
const INITIAL_BYTES = 64 * 1024;
const RETAINED_SLOTS = 256 * 1024;
const RETAINED_BYTES = 1024 * 1024;

/** A drained batch kept in the addon's memory (drainPacked with hold), by ref. */
class NativeHeldBatch implements HeldRecords {
  private buffer: Buffer | null = null;
  constructor(
    private readonly addon: NativeAddon,
    readonly ref: number,
    readonly length: number,
  ) {}

  toBuffer(): Buffer {
    return (this.buffer ??= this.addon.heldBatchBuffer(this.ref));
  }

  restamp(producerId: bigint, producerEpoch: number, baseSequence: number): void {
    this.addon.restampHeldBatch(this.ref, producerId, producerEpoch, baseSequence);
    this.buffer = null; // the bytes may live in a new block now
  }
}

/** DrainedBatch of a held batch: `bytes` only made when read. */
class HeldDrainedBatch implements DrainedBatch {
  constructor(
    readonly batchId: number,
    readonly partition: number,
    readonly recordCount: number,
    public createdMs: number,
    readonly held: NativeHeldBatch,
  ) {}

  get bytes(): Buffer {
    return this.held.toBuffer();
  }
}

/**
 * Lays records out in the addon's packed form (see native.ts): one ArrayBuffer seen as
 * `scratch` (all of it, what the addon gets), `meta` (the float64 slots at its front) and
 * `bytes` (the rest). Reused from call to call; one per backend, and a call that re-enters
 * it (a getter on a record appending elsewhere) gets a fresh one.
 */
class RecordPacker {
  scratch!: Buffer;
  meta!: Float64Array;
  bytes!: Buffer;
  metaCapacity = 0;
  bigs: Uint8Array[] = [];
  busy = false;

  constructor() {
    this.allocate(INITIAL_SLOTS, INITIAL_BYTES, 0, 0);
  }

  /** Packs `records` into meta (from slot `firstSlot`) / bytes / bigs. */
  pack(records: readonly RecordInput[], firstSlot: number): void {
    let bytes = this.bytes;
    let meta = this.meta;
    // A fresh array rather than `length = 0`, which goes through a slow runtime setter.
    const bigs = this.bigs.length === 0 ? this.bigs : (this.bigs = []);
    let off = 0;
    let m = firstSlot;
    const n = records.length;
    for (let i = 0; i < n; i++) {
      const r = records[i];
      const headers = r.headers;
      const headerCount = headers === null || headers === undefined ? 0 : headers.length;
      if (m + 4 + 2 * headerCount > meta.length) {
        this.allocate(Math.max(2 * meta.length, m + 4 + 2 * headerCount), bytes.length, m, off);
        ({ bytes, meta } = this);
      }
      const ts = r.timestamp;
      // Not a number: NaN, which the addon refuses naming the field.
      meta[m] = typeof ts === 'number' ? ts : NaN;
      // key, value: null -> -1; a small Uint8Array -> copied; anything else by reference
      // (the addon takes only Uint8Arrays there, so a wrong type is its TypeError).
      const k = r.key;
      if (k === null) {
        meta[m + 1] = -1;
      } else if (k instanceof Uint8Array && k.length < BY_REFERENCE_BYTES) {
        if (off + k.length > bytes.length) ({ bytes, meta } = this.growBytes(m + 4, off, off + k.length));
        bytes.set(k, off);
        off += k.length;
        meta[m + 1] = k.length;
      } else {
        meta[m + 1] = -2 - bigs.length;
        bigs.push(k as Uint8Array);
      }
      const v = r.value;
      if (v === null) {
        meta[m + 2] = -1;
      } else if (v instanceof Uint8Array && v.length < BY_REFERENCE_BYTES) {
        if (off + v.length > bytes.length) ({ bytes, meta } = this.growBytes(m + 4, off, off + v.length));
        bytes.set(v, off);
        off += v.length;
        meta[m + 2] = v.length;
      } else {
        meta[m + 2] = -2 - bigs.length;
        bigs.push(v as Uint8Array);
      }
      meta[m + 3] = headerCount;
      m += 4;
      for (let j = 0; j < headerCount; j++) {
        const h = headers![j]!;
        const hk = h.key;
        if (typeof hk !== 'string') {
          throw new TypeError(`append: records[${i}].headers[${j}].key must be a string`);
        }
        // At most 3 UTF-8 bytes per UTF-16 unit (a surrogate pair: 4 bytes for 2 units).
        if (off + 3 * hk.length > bytes.length) ({ bytes, meta } = this.growBytes(m + 2, off, off + 3 * hk.length));
        // Short ASCII keys (the usual ones) byte by byte: a call into buf.write costs more.
        let kl = hk.length;
        if (kl <= 32) {
          for (let c = 0; c < kl; c++) {
            const code = hk.charCodeAt(c);
            if (code >= 0x80) {
              kl = -1;
              break;
            }
            bytes[off + c] = code;
          }
        } else {
          kl = -1;
        }
        if (kl < 0) kl = bytes.write(hk, off);
        off += kl;
        meta[m] = kl;
        const hv = h.value;
        if (hv === null) {
          meta[m + 1] = -1;
        } else if (hv instanceof Uint8Array && hv.length < BY_REFERENCE_BYTES) {
          if (off + hv.length > bytes.length) ({ bytes, meta } = this.growBytes(m + 2, off, off + hv.length));
          bytes.set(hv, off);
          off += hv.length;
          meta[m + 1] = hv.length;
        } else {
          meta[m + 1] = -2 - bigs.length;
          bigs.push(hv as Uint8Array);
        }
        m += 2;
      }
    }
  }

  /** At least `slots` float64 slots (their contents are not kept). */
  ensureSlots(slots: number): void {
    if (slots > this.metaCapacity) this.allocate(Math.max(slots, 2 * this.metaCapacity), this.bytes.length, 0, 0);
  }

  /** Scratch that grew past what is worth keeping goes back to its initial size. */
  trim(): void {
    if (this.metaCapacity > RETAINED_SLOTS || this.bytes.length > RETAINED_BYTES) {
      this.allocate(INITIAL_SLOTS, INITIAL_BYTES, 0, 0);
    }
    if (this.bigs.length !== 0) this.bigs = [];
  }

  /** Grows the byte area. `metaUsed` must cover the slots of the record being packed (its
   * slots are written before its bytes), so that nothing already written is lost. */
  private growBytes(metaUsed: number, bytesUsed: number, need: number): RecordPacker {
    let size = 2 * this.bytes.length;
    while (size < need) size *= 2;
    this.allocate(this.metaCapacity, size, metaUsed, bytesUsed);
    return this;
  }

  /** A new ArrayBuffer of `slots` slots and `byteCapacity` bytes, keeping what is in use. */
  private allocate(slots: number, byteCapacity: number, metaUsed: number, bytesUsed: number): void {
    const ab = new ArrayBuffer(8 * slots + byteCapacity);
    const meta = new Float64Array(ab, 0, slots);
    const bytes = Buffer.from(ab, 8 * slots, byteCapacity);
    if (metaUsed > 0) meta.set(this.meta.subarray(0, metaUsed));
    if (bytesUsed > 0) bytes.set(this.bytes.subarray(0, bytesUsed));
    this.scratch = Buffer.from(ab);
    this.meta = meta;
    this.bytes = bytes;
    this.metaCapacity = slots;
  }
}

/** The backend's packer, or a fresh one when that one is in use; hand it back with release(). */
function acquire(shared: RecordPacker): RecordPacker {
  const packer = shared.busy ? new RecordPacker() : shared;
  packer.busy = true;
  return packer;
}

function release(packer: RecordPacker): void {
  packer.busy = false;
  packer.trim();
}

/** KAFKA_TURBO_IO, checked: 'uring', 'net', or undefined (unset: the probe decides). */
export function forcedIo(): 'uring' | 'net' | undefined {
  const v = process.env['KAFKA_TURBO_IO']?.trim().toLowerCase();
  if (v === undefined || v === '') return undefined;
  if (v !== 'uring' && v !== 'net') throw new Error(`KAFKA_TURBO_IO must be "uring" or "net", not ${JSON.stringify(v)}`);
  return v;
}

/**
 * KAFKA_TURBO_IO_TASKRUN, checked: the io_uring ring's task-work mode (transport-uring.ts
 * TaskRunMode), 'defer' when unset. KAFKA_TURBO_TEST_REFUSE_TASKRUN=1 (tests) makes the mode's
 * setup flags count as refused, as on a kernel older than them.
 */
export function wantedTaskRun(): { mode: TaskRunMode; refuseForTest: boolean } {
  const v = process.env['KAFKA_TURBO_IO_TASKRUN']?.trim().toLowerCase();
  let mode: TaskRunMode = 'defer';
  if (v !== undefined && v !== '') {
    if (v !== 'defer' && v !== 'coop' && v !== 'plain') {
      throw new Error(`KAFKA_TURBO_IO_TASKRUN must be "defer", "coop" or "plain", not ${JSON.stringify(v)}`);
    }
    mode = v;
  }
  return { mode, refuseForTest: process.env['KAFKA_TURBO_TEST_REFUSE_TASKRUN'] === '1' };
}

/**
 * KAFKA_TURBO_IO_RECV, checked: how the io_uring transport receives (transport-uring.ts
 * RecvMode), DEFAULT_RECV when unset.
 */
export function wantedRecv(): { mode: RecvMode; forced: boolean } {
  const v = process.env['KAFKA_TURBO_IO_RECV']?.trim().toLowerCase();
  if (v === undefined || v === '') return { mode: DEFAULT_RECV, forced: false };
  if (v !== 'poll' && v !== 'ring') throw new Error(`KAFKA_TURBO_IO_RECV must be "poll" or "ring", not ${JSON.stringify(v)}`);
  return { mode: v, forced: true };
}

const RECV_SAYS: Record<RecvMode, string> = {
  poll: 'recv(2) on libuv epoll readiness (poll)',
  ring: 'io_uring recv (ring)',
};

const TASKRUN_SAYS: Record<TaskRunMode, string> = {
  defer: 'IORING_SETUP_DEFER_TASKRUN',
  coop: 'IORING_SETUP_COOP_TASKRUN',
  plain: 'plain (no task-work flags)',
};

/**
 * The transport for plain-TCP connections, decided once with the backend: io_uring when the
 * addon has it and the kernel lets this process use it (probed: io_uring_setup and the
 * opcodes the ring submits), node:net otherwise, with the reason. KAFKA_TURBO_IO=net forces
 * node:net; KAFKA_TURBO_IO=uring makes io_uring refused an error instead of a quiet fallback.
 * With io_uring the reason also says the ring's task-work mode, probed the same way (a kernel
 * that refuses DEFER_TASKRUN gets plain task work, and the reason says why), then its receive
 * mode (KAFKA_TURBO_IO_RECV, else DEFAULT_RECV).
 */
function chooseIo(addon: NativeAddon): { transport?: Transport; io: 'uring' | 'net'; ioReason: string } {
  const forced = forcedIo();
  if (forced === 'net') return { io: 'net', ioReason: 'node:net: KAFKA_TURBO_IO=net' };
  let refusal: string | null;
  if (typeof addon.ioUringProbe !== 'function' || typeof addon.createRing !== 'function') {
    refusal = `this build of the addon has no io_uring transport (${process.platform}; it is built on Linux only)`;
  } else {
    refusal = addon.ioUringProbe();
  }
  if (refusal !== null) {
    if (forced === 'uring') throw new Error(`KAFKA_TURBO_IO=uring but io_uring cannot be used here: ${refusal}`);
    return { io: 'net', ioReason: `node:net: io_uring refused: ${refusal}` };
  }
  const want = wantedTaskRun();
  const probe = (addon as NativeAddon & { ioUringTaskRun?: ProbeTaskRun }).ioUringTaskRun;
  const got = typeof probe === 'function' ? probe(want.mode, want.refuseForTest) : { mode: 'plain' as const, fallback: 'this build of the addon has no task-work modes' };
  const taskRun = `task work: ${TASKRUN_SAYS[got.mode]}${got.fallback !== null ? ` (${want.mode} asked for: ${got.fallback})` : ''}`;
  const recv = wantedRecv();
  const receive = `receive: ${RECV_SAYS[recv.mode]}${recv.forced ? `, KAFKA_TURBO_IO_RECV=${recv.mode}` : ''}`;
  return {
    transport: new UringTransport(addon.createRing!, { taskRun: got.mode, recv: recv.mode }),
    io: 'uring',
    ioReason:
      (forced === 'uring' ? 'io_uring: KAFKA_TURBO_IO=uring (probe passed)' : 'io_uring: the probe at load passed (ring setup and every opcode the transport submits)') +
      `; ${receive}; ${taskRun}`,
  };
}

export function createNativeBackend(
  addon: NativeAddon = loadNativeAddon(),
  info: { reason: string; refused: RefusedCandidate[] } = { reason: 'native addon loaded', refused: [] },
): Backend {
  const packer = new RecordPacker();
  const { transport, io, ioReason } = chooseIo(addon);
  // On the ring, drained batches stay native (issue 15, item 2); KAFKA_TURBO_NATIVE_BATCHES=0
  // turns that off (measurements: the same ring with a Buffer per batch).
  const holdDrained = io === 'uring' && process.env['KAFKA_TURBO_NATIVE_BATCHES'] !== '0';
  return {
    ...(transport ? { transport } : {}),
    info: {
      backend: 'native',
      crc32c: addon.crc32cImpl(),
      ioUring: io === 'uring',
      io,
      ioReason,
      codecs: ['none', 'gzip', 'snappy', 'lz4', 'zstd'],
      reason: info.reason,
      refused: info.refused,
    },
    crc32c: addon.crc32c,
    encodeRecordBatch: (records: readonly RecordInput[], header: BatchHeaderInput): Buffer => {
      const p = acquire(packer);
      try {
        p.pack(records, 0);
        const bigs = p.bigs.length > 0 ? p.bigs : null;
        return addon.encodeRecordBatchPacked(records.length, p.scratch, p.metaCapacity, bigs, header);
      } finally {
        release(p);
      }
    },
    createAccumulator: (config: AccumulatorConfig): RecordAccumulator => {
      const acc = addon.createAccumulator(config);
      /** append() and appendEach(): the same slots, one of two entry points. */
      const appendVia = (each: boolean, partition: number, records: readonly RecordInput[], nowMs: number): AppendResult => {
        const p = acquire(packer);
        try {
          p.pack(records, APPEND_SLOTS);
          const meta = p.meta;
          meta[0] = p.metaCapacity;
          meta[1] = partition;
          meta[2] = nowMs;
          meta[3] = records.length;
          meta[4] = p.bigs.length;
          if (each) acc.appendPackedEach(p.scratch, p.bigs.length > 0 ? p.bigs : null);
          else acc.appendPacked(p.scratch, p.bigs.length > 0 ? p.bigs : null);
          const batches = new Array<number>(2 * meta[1]!);
          for (let i = 0; i < batches.length; i++) batches[i] = meta[2 + i]!;
          return { appended: meta[0]!, batches };
        } finally {
          release(p);
        }
      };
      return {
        append: (partition: number, records: readonly RecordInput[], nowMs: number): AppendResult =>
          appendVia(false, partition, records, nowMs),
        appendEach: (partition: number, records: readonly RecordInput[], nowMs: number): AppendResult =>
          appendVia(true, partition, records, nowMs),
        drain: (partitions: readonly number[], maxBytes: number, stamp: DrainStamp): DrainedBatch[] => {
          const p = acquire(packer);
          try {
            const n = partitions.length;
            p.ensureSlots(Math.max(DRAIN_SLOTS + 2 * n, 1 + DRAIN_OUT_SLOTS * n));
            const meta = p.meta;
            const sequences = stamp.baseSequences;
            const withSequences = sequences !== null && sequences !== undefined;
            meta[0] = p.metaCapacity;
            meta[1] = n;
            meta[2] = maxBytes;
            meta[3] = stamp.producerEpoch;
            meta[4] = stamp.transactional ? 1 : 0;
            meta[5] = withSequences ? 1 : 0;
            for (let i = 0; i < n; i++) meta[DRAIN_SLOTS + i] = partitions[i]!;
            // A missing or non-number sequence becomes NaN, which the addon refuses.
            if (withSequences) for (let i = 0; i < n; i++) meta[DRAIN_SLOTS + n + i] = sequences[i]!;
            const buffers = acc.drainPacked(p.scratch, stamp.producerId, holdDrained);
            const count = meta[0]!;
            const out = new Array<DrainedBatch>(count);
            const area = p.bytes;
            for (let i = 0; i < count; i++) {
              const at = 1 + DRAIN_OUT_SLOTS * i;
              const offset = meta[at + 4]!;
              if (offset <= -2) {
                // Held in native memory (the ring writes it from there): no Buffer unless asked.
                const held = new NativeHeldBatch(addon, -2 - offset, meta[at + 5]!);
                out[i] = new HeldDrainedBatch(meta[at]!, meta[at + 1]!, meta[at + 2]!, meta[at + 3]!, held);
                continue;
              }
              let bytes: Buffer;
              if (offset >= 0) {
                // Copied into the scratch by the addon: a Buffer from Node's pool (allocUnsafe
                // slices one shared slab for sizes under 4 KiB), filled from there.
                const size = meta[at + 5]!;
                bytes = Buffer.allocUnsafe(size);
                area.copy(bytes, 0, offset, offset + size);
              } else {
                bytes = buffers![i]!;
              }
              out[i] = { batchId: meta[at]!, partition: meta[at + 1]!, recordCount: meta[at + 2]!, bytes, createdMs: meta[at + 3]! };
            }
            return out;
          } finally {
            release(p);
          }
        },
        // ready() and complete() through the slots: the object and array Node-API would make
        // (or read) cost more than the call itself (issue 10, item 5: per awaited send these
        // two were ~12 µs of the native backend's extra latency with cold caches).
        ready: (nowMs: number, flushing: boolean): ReadyResult => {
          const p = acquire(packer);
          try {
            const meta = p.meta;
            meta[0] = p.metaCapacity;
            meta[1] = nowMs;
            meta[2] = flushing ? 1 : 0;
            const overflow = acc.readyPacked(p.scratch);
            const nextReadyInMs = meta[1]!;
            if (overflow !== undefined) return { partitions: overflow, nextReadyInMs };
            const n = meta[0]!;
            const partitions = new Array<number>(n);
            for (let i = 0; i < n; i++) partitions[i] = meta[2 + i]!;
            return { partitions, nextReadyInMs };
          } finally {
            release(p);
          }
        },
        expire: acc.expire,
        abortAll: acc.abortAll,
        complete: (results: readonly BatchResult[]): void => {
          if (!Array.isArray(results)) throw new TypeError('complete: results must be an array of {batchId, errorCode}');
          const p = acquire(packer);
          try {
            const n = results.length;
            p.ensureSlots(COMPLETE_SLOTS + 2 * n);
            const meta = p.meta;
            meta[0] = p.metaCapacity;
            meta[1] = n;
            for (let i = 0; i < n; i++) {
              const r = results[i]!;
              // Anything but a number becomes NaN: no batch id, and a failure code, as the
              // object form reads it.
              meta[COMPLETE_SLOTS + 2 * i] = typeof r.batchId === 'number' ? r.batchId : NaN;
              meta[COMPLETE_SLOTS + 2 * i + 1] = typeof r.errorCode === 'number' ? r.errorCode : NaN;
            }
            acc.completePacked(p.scratch);
          } finally {
            release(p);
          }
        },
        hasUndrained: acc.hasUndrained,
        setBlocked: acc.setBlocked,
        stats: acc.stats,
        destroy: acc.destroy,
      };
    },
    createBufferPool: addon.createBufferPool,
  };
}
