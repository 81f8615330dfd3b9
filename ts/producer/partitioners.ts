/**
 * Partitioners with the Java client's semantics.
 *
 * Records with a key go to toPositive(murmur2(key)) % numPartitions. That formula must give
 * the same number as org.apache.kafka.common.utils.Utils.murmur2 bit for bit: Java
 * producers, Kafka Streams, ksqlDB and Connect all place keys this way, and a record keyed
 * by the same bytes has to land in the same partition whichever client wrote it.
 *
 * Records without a key use the uniform sticky partitioner of KIP-794: stay on one
 * partition until batch.size bytes have been written to it, then jump to another at
 * random. Staying put fills batches, so fewer and larger produce requests go out.
 *
 * Everything here runs once per record on the JS thread, so the per-record paths do not
 * allocate (state is created once per topic).
 */

import { KafkaJSNonRetriableError } from '../errors.js';

/** Murmur2's seed and mixing constants as Kafka fixed them (Utils.murmur2). */
const MURMUR2_SEED = 0x9747b28c;
const MURMUR2_M = 0x5bd1e995;
const MURMUR2_R = 24;

/**
 * Murmur2 over the first `length` bytes of `data`, 32-bit and signed as Java returns it.
 * Exists so the KafkaJS facade can hash a string encoded into a reused scratch buffer
 * without making a subarray view per record.
 */
export function murmur2Prefix(data: Uint8Array, length: number): number {
  let h = MURMUR2_SEED ^ length;
  const blocksEnd = length & ~3;
  for (let i = 0; i < blocksEnd; i += 4) {
    // Little-endian block; Java adds the shifted bytes, which is the same as or-ing them
    // because they occupy different bits.
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, MURMUR2_M);
    k ^= k >>> MURMUR2_R;
    k = Math.imul(k, MURMUR2_M);
    h = Math.imul(h, MURMUR2_M) ^ k;
  }
  // The 1-3 trailing bytes. Java uses a falling-through switch; tsconfig forbids
  // fall-through, so the cases are spelled as nested conditions.
  const rest = length & 3;
  if (rest !== 0) {
    if (rest === 3) h ^= data[blocksEnd + 2] << 16;
    if (rest >= 2) h ^= data[blocksEnd + 1] << 8;
    h ^= data[blocksEnd];
    h = Math.imul(h, MURMUR2_M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, MURMUR2_M);
  h ^= h >>> 15;
  return h;
}

/** Java's Utils.murmur2: a signed 32-bit hash of all of `data`. */
export function murmur2(data: Uint8Array): number {
  return murmur2Prefix(data, data.length);
}

/**
 * Java's Utils.toPositive: clears the sign bit. Not an absolute value: -1 becomes
 * 0x7fffffff, and the most negative int becomes 0 (Java's Math.abs would leave it negative).
 */
export function toPositive(n: number): number {
  return n & 0x7fffffff;
}

/**
 * The partition of a keyed record. Like Java, this counts ALL partitions, not only those
 * with a leader: a key must keep its partition while a broker is down, or ordering per key
 * would break.
 */
export function keyedPartition(key: Uint8Array, numPartitions: number): number {
  return toPositive(murmur2Prefix(key, key.length)) % numPartitions;
}

/** What a partitioner sees of one record. */
export interface PartitionerContext {
  topic: string;
  /** The serialized key, or null for a record without one. */
  key: Buffer | null;
  value: Buffer | null;
  /** How many partitions the topic has, led or not. */
  numPartitions: number;
  /** The ids of the partitions that have a leader right now, in metadata order. */
  availablePartitions: readonly number[];
}

/** A user's partitioner: returns a partition id in [0, numPartitions). */
export type PartitionFn = (ctx: PartitionerContext) => number;

/** A random number in [0, 1), like Math.random. */
export type RandomSource = () => number;

/**
 * What adaptive partitioning (KIP-794, partitioner.adaptive.partitioning.enable) knows of each
 * partition. Asked only when the sticky partition changes (once per batch.size bytes), never
 * per record.
 */
export interface PartitionLoad {
  /** Batches of the partition waiting in the producer to be sent (Java: the deque's size). */
  queueSize(topic: string, partition: number): number;
  /** False while the partition's leader has had sendable batches for longer than
   * partitioner.availability.timeout.ms without taking any (always true when it is 0). */
  isAvailable(topic: string, partition: number): boolean;
}

/** The sticky choice for one topic. */
interface StickyState {
  partition: number;
  /** Bytes appended to `partition` since it was picked; the switch happens at batch.size. */
  producedBytes: number;
  /**
   * The partition lists seen by the last partition() call, kept (by reference, no copy) so
   * onAppend can pick the next partition at the moment of the switch, as Java's
   * updatePartitionInfo does, without being handed the metadata again.
   */
  numPartitions: number;
  availablePartitions: readonly number[];
}

/**
 * The keyless half of Java's built-in partitioner (KIP-794's BuiltInPartitioner), one
 * instance per producer with per-topic state.
 *
 * With a PartitionLoad (adaptive partitioning, on by default as in Java) the next partition is
 * drawn with weight (longest queue + 1 − its queue) among the partitions whose leaders are
 * available, so partitions behind slow leaders get fewer records; uniform when every queue is
 * as long, or when no leader counts as available (Java's BuiltInPartitioner and its
 * partition load stats).
 *
 * A deliberate difference from Java:
 * - The next partition always differs from the current one when more than one is
 *   available, as the older StickyPartitionCache (KIP-480) guaranteed. BuiltInPartitioner
 *   may draw the same partition again, which only wastes a switch.
 */
export class UniformStickyPartitioner {
  private readonly batchSize: number;
  private readonly random: RandomSource;
  private readonly byTopic = new Map<string, StickyState>();

  /**
   * @param batchSize bytes to write to a partition before switching (batch.size; must be >= 1
   *   as in Java, where batch.size=0 reaches the partitioner as 1)
   * @param rng random numbers in [0, 1); Math.random unless a test needs a fixed sequence
   */
  constructor(
    batchSize: number,
    rng: RandomSource = Math.random,
    /** Adaptive partitioning's view of the queues; null for the uniform choice. */
    private readonly load: PartitionLoad | null = null,
  ) {
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`UniformStickyPartitioner: batchSize must be an integer >= 1, got ${batchSize}`);
    }
    this.batchSize = batchSize;
    this.random = rng;
  }

  /** The topic's current sticky partition, picked at random on first use. */
  partition(topic: string, numPartitions: number, availablePartitions: readonly number[]): number {
    let state = this.byTopic.get(topic);
    if (state === undefined) {
      state = {
        partition: this.pick(topic, numPartitions, availablePartitions, -1),
        producedBytes: 0,
        numPartitions,
        availablePartitions,
      };
      this.byTopic.set(topic, state);
    } else {
      state.numPartitions = numPartitions;
      state.availablePartitions = availablePartitions;
    }
    return state.partition;
  }

  /**
   * Counts `bytes` appended to `partition`. Once the topic's sticky partition has received
   * at least batch.size bytes, a new one is picked for the records that follow.
   *
   * Bytes appended to another partition (an explicit partition, a key hashed elsewhere) do
   * not count. Keyed records that hash to the sticky partition do: they fill the same
   * batch, and switching at batch boundaries is the point. Java counts keyless records only.
   */
  onAppend(topic: string, partition: number, bytes: number): void {
    const state = this.byTopic.get(topic);
    if (state === undefined || state.partition !== partition) return;
    state.producedBytes += bytes;
    if (state.producedBytes >= this.batchSize) {
      state.partition = this.pick(topic, state.numPartitions, state.availablePartitions, partition);
      state.producedBytes = 0;
    }
  }

  /**
   * A random available partition other than `previous` when there is a choice; a random
   * one of all partitions when none has a leader, as Java does rather than failing the send
   * (the batch waits in the accumulator for a leader).
   */
  private pick(topic: string, numPartitions: number, available: readonly number[], previous: number): number {
    if (this.load !== null && available.length > 1) {
      const p = this.pickAdaptive(topic, available, previous);
      if (p >= 0) return p;
    }
    const n = available.length;
    if (n === 0) return this.randomIndex(numPartitions);
    if (n === 1) return available[0];
    const at = previous < 0 ? -1 : available.indexOf(previous);
    if (at < 0) return available[this.randomIndex(n)];
    // Draw among the other n - 1 and step over the previous one's slot: uniform, no retry loop.
    const i = this.randomIndex(n - 1);
    return available[i < at ? i : i + 1];
  }

  /**
   * KIP-794's weighted draw: weight (longest queue + 1 − queue) over the partitions whose
   * leaders are available, the previous partition left out when there is another. Returns -1
   * to fall back to the uniform draw (every queue equal, or no available partition).
   */
  private pickAdaptive(topic: string, available: readonly number[], previous: number): number {
    const load = this.load!;
    const ids: number[] = [];
    const sizes: number[] = [];
    for (let i = 0; i < available.length; i++) {
      const p = available[i]!;
      if (!load.isAvailable(topic, p)) continue;
      ids.push(p);
      sizes.push(Math.max(0, load.queueSize(topic, p)));
    }
    if (ids.length === 0) return -1;
    let max = 0;
    let min = Infinity;
    for (const q of sizes) {
      if (q > max) max = q;
      if (q < min) min = q;
    }
    // Every leader available and every queue as long: the uniform draw is the same thing.
    if (ids.length === available.length && max === min) return -1;
    if (ids.length === 1) return ids[0]!;
    let total = 0;
    const weights = sizes.map((q, i) => (ids[i] === previous ? 0 : max + 1 - q));
    for (const w of weights) total += w;
    let r = this.random() * total;
    for (let i = 0; i < ids.length; i++) {
      r -= weights[i]!;
      if (r < 0) return ids[i]!;
    }
    // Rounding (or an rng that returns 1): the last partition with any weight.
    for (let i = ids.length - 1; i >= 0; i--) if (weights[i]! > 0) return ids[i]!;
    return ids[0]!;
  }

  private randomIndex(n: number): number {
    // min() guards against an rng that returns 1.
    return Math.min(Math.floor(this.random() * n), n - 1);
  }
}

/**
 * Java's RoundRobinPartitioner: a per-topic counter from 0 over the partitions that have a
 * leader, or over all partitions when none has one. Keys are ignored.
 *
 * Java 3.x also queues partitions to undo the double partition() call it makes when a new
 * batch starts (KAFKA-9965); we call partition() once per record, so the counter alone
 * gives Java's observable sequence.
 */
export class RoundRobinPartitioner {
  private readonly counters = new Map<string, number>();

  partition(topic: string, numPartitions: number, availablePartitions: readonly number[]): number {
    const next = this.counters.get(topic) ?? 0;
    // Java's AtomicInteger wraps at 2^31; `| 0` wraps the same way.
    this.counters.set(topic, (next + 1) | 0);
    const n = availablePartitions.length;
    if (n > 0) return availablePartitions[toPositive(next) % n];
    return toPositive(next) % numPartitions;
  }
}

/** A partitioner as the producer drives it: pick, append, report what was appended. */
export interface ResolvedPartitioner {
  partition(ctx: PartitionerContext): number;
  /** Tells the partitioner `bytes` went to `partition` of `topic` (drives sticky switching). */
  onAppend(topic: string, partition: number, bytes: number): void;
}

/** The names a producer accepts for its partitioner, or a function of the user's. */
export type PartitionerName = 'default' | 'sticky' | 'round-robin';

const noAppend = (): void => {};

/**
 * The partitioner for a producer:
 * - 'default': Java's built-in behaviour: keyed records by murmur2 over all partitions,
 *   keyless ones sticky.
 * - 'sticky': sticky for every record, keys ignored (Java's UniformStickyPartitioner, or the
 *   built-in one with partitioner.ignore.keys=true).
 * - 'round-robin': Java's RoundRobinPartitioner, keys ignored.
 * - a function: called per record; its answer must be an integer in [0, numPartitions).
 *
 * A record with an explicit partition never reaches the partitioner; the caller handles it.
 * `batchSize` is batch.size; 0 (batching disabled) counts as 1, as in Java.
 */
export function resolvePartitioner(
  name: PartitionerName | PartitionFn,
  batchSize: number,
  /** Adaptive partitioning for the sticky choice (null: uniform). */
  load: PartitionLoad | null = null,
): ResolvedPartitioner {
  if (typeof name === 'function') return checkedCustomPartitioner(name);
  const stickyBatchSize = Math.max(1, batchSize);
  switch (name) {
    case 'default': {
      const sticky = new UniformStickyPartitioner(stickyBatchSize, Math.random, load);
      return {
        partition(ctx) {
          checkPartitionCount(ctx);
          // `!= null`: a caller's undefined key is treated as no key, not hashed.
          if (ctx.key != null) return keyedPartition(ctx.key, ctx.numPartitions);
          return sticky.partition(ctx.topic, ctx.numPartitions, ctx.availablePartitions);
        },
        onAppend: (topic, partition, bytes) => sticky.onAppend(topic, partition, bytes),
      };
    }
    case 'sticky': {
      const sticky = new UniformStickyPartitioner(stickyBatchSize, Math.random, load);
      return {
        partition(ctx) {
          checkPartitionCount(ctx);
          return sticky.partition(ctx.topic, ctx.numPartitions, ctx.availablePartitions);
        },
        onAppend: (topic, partition, bytes) => sticky.onAppend(topic, partition, bytes),
      };
    }
    case 'round-robin': {
      const roundRobin = new RoundRobinPartitioner();
      return {
        partition(ctx) {
          checkPartitionCount(ctx);
          return roundRobin.partition(ctx.topic, ctx.numPartitions, ctx.availablePartitions);
        },
        onAppend: noAppend,
      };
    }
    default:
      throw new TypeError(
        `Unknown partitioner ${JSON.stringify(name)}: expected 'default', 'sticky', 'round-robin' or a function`,
      );
  }
}

/**
 * A user's function, with its answer checked: a wrong partition caught here names the
 * topic and the value, rather than surfacing later as an unknown-partition error.
 */
function checkedCustomPartitioner(fn: PartitionFn): ResolvedPartitioner {
  return {
    partition(ctx) {
      const partition = fn(ctx);
      if (!Number.isInteger(partition) || partition < 0 || partition >= ctx.numPartitions) {
        throw new KafkaJSNonRetriableError(
          `Custom partitioner returned an invalid partition for topic "${ctx.topic}": ` +
            `${describe(partition)} (expected an integer in [0, ${ctx.numPartitions}))`,
          { code: 'INVALID_PARTITION' },
        );
      }
      return partition;
    },
    onAppend: noAppend,
  };
}

/** Without partitions every formula above would answer NaN; say why instead. */
function checkPartitionCount(ctx: PartitionerContext): void {
  if (!(ctx.numPartitions > 0)) {
    throw new KafkaJSNonRetriableError(`Cannot partition a record for topic "${ctx.topic}": it has no partitions`, {
      code: 'INVALID_PARTITION',
    });
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  return String(value);
}
