/**
 * KafkaJS's `Partitioners`, behaving as KafkaJS 2.2.4's do, so an app that passes
 * `createPartitioner: Partitioners.DefaultPartitioner` (or Legacy, or its own factory) gets
 * the partitions it got from KafkaJS.
 *
 * How KafkaJS drives a partitioner: the producer calls `createPartitioner()` once, then calls
 * the returned function once per message with `{ topic, partitionMetadata, message }`,
 * where `partitionMetadata` is the topic's partition list from metadata and `message` is
 * the object the app passed to send().
 *
 * Both built-in partitioners decide the same way and differ only in the hash:
 * 1. `message.partition` when set (even 0, even out of range: it is returned unchecked);
 * 2. a key (anything but null/undefined): toPositive(hash(key)) % partitionMetadata.length,
 *    over all partitions, led or not;
 * 3. no key: round robin over the partitions whose leader is >= 0, with a per-topic counter
 *    that starts at a random 32-bit value (so producers started together do not all begin
 *    on the same partition); over all partitions when none has a leader.
 *
 * DefaultPartitioner (= JavaCompatiblePartitioner, its pre-2.0 name) hashes with Java's
 * murmur2. LegacyPartitioner hashes with the murmur2 KafkaJS 1.x shipped as its default,
 * which computes in floating point and so disagrees with Java for nearly every key.
 */

import { randomBytes } from 'node:crypto';
import { murmur2Prefix, toPositive } from '../producer/partitioners.js';

/** KafkaJS's PartitionMetadata. */
export type PartitionMetadata = {
  partitionErrorCode: number;
  partitionId: number;
  /** The leader's broker id; negative when the partition has no leader. */
  leader: number;
  replicas: number[];
  isr: number[];
  offlineReplicas?: number[];
};

/** KafkaJS's IHeaders. */
export interface IHeaders {
  [key: string]: Buffer | string | (Buffer | string)[] | undefined;
}

/**
 * KafkaJS's Message, the `message` a partitioner receives. Named apart from KafkaJS's
 * `Message` so it cannot collide with the facade's own message type.
 */
export interface PartitionerMessage {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  partition?: number;
  headers?: IHeaders;
  timestamp?: string;
}

/** KafkaJS's PartitionerArgs. */
export interface PartitionerArgs {
  topic: string;
  partitionMetadata: PartitionMetadata[];
  message: PartitionerMessage;
}

/** KafkaJS's ICustomPartitioner: a factory, called once per producer. */
export type ICustomPartitioner = () => (args: PartitionerArgs) => number;
export type KafkaJSPartitionerFactory = ICustomPartitioner;
export type DefaultPartitioner = ICustomPartitioner;
export type LegacyPartitioner = ICustomPartitioner;

/** A hash over the first `length` bytes of `data`, returning a signed 32-bit number. */
type PrefixHash = (data: Uint8Array, length: number) => number;

const LEGACY_SEED = 0x9747b28c;
const LEGACY_M = 0x5bd1e995;
const LEGACY_R = 24;

/**
 * KafkaJS 1.x's murmur2, kept bit for bit because LegacyPartitioner users depend on where
 * their keys landed. It reads like Java's, but `*=` on JS numbers is a float multiply: the
 * product of two 32-bit values needs up to 62 bits, the double keeps 53, and the low bits
 * that the following xor/shift read are lost. Every operation below is deliberately the
 * same float or int32 operation KafkaJS performs, in the same order.
 *
 * The other quirk: KafkaJS loops `i < length / 4` with a fractional bound, so a final
 * partial block is mixed in as a block (missing bytes read as 0) and then again as the tail.
 */
export function legacyMurmur2Prefix(data: Uint8Array, length: number): number {
  let h: number = LEGACY_SEED ^ length;
  const fullEnd = length & ~3;
  for (let i = 0; i < fullEnd; i += 4) {
    h = legacyMixBlock(h, data[i] + (data[i + 1] << 8) + (data[i + 2] << 16) + (data[i + 3] << 24));
  }
  const rest = length & 3;
  if (rest !== 0) {
    const b0 = data[fullEnd];
    const b1 = rest >= 2 ? data[fullEnd + 1] : 0;
    const b2 = rest === 3 ? data[fullEnd + 2] : 0;
    h = legacyMixBlock(h, b0 + (b1 << 8) + (b2 << 16));
    if (rest === 3) h ^= b2 << 16;
    if (rest >= 2) h ^= b1 << 8;
    h ^= b0;
    h *= LEGACY_M;
  }
  h ^= h >>> 13;
  h *= LEGACY_M;
  h ^= h >>> 15;
  return h;
}

/** One block round of the legacy hash; `k` and `h` go through doubles exactly as in KafkaJS. */
function legacyMixBlock(h: number, block: number): number {
  let k = block;
  k *= LEGACY_M;
  k ^= k >>> LEGACY_R;
  k *= LEGACY_M;
  h *= LEGACY_M;
  return h ^ k;
}

/** KafkaJS 1.x's murmur2 of all of `data` (LegacyPartitioner's hash). */
export function legacyMurmur2(data: Uint8Array): number {
  return legacyMurmur2Prefix(data, data.length);
}

/**
 * Keys are hashed as KafkaJS hashes them: a Buffer as its bytes, anything else as the UTF-8
 * of String(key). That includes a Uint8Array that is not a Buffer, which KafkaJS hashes as
 * the text "1,2,3"; we must do the same to agree on its partition.
 *
 * Strings are encoded into this scratch array instead of a new Buffer per message (TextEncoder's
 * encodeInto measured fastest, ahead of Buffer#write and Buffer.from; like Buffer.from it
 * writes a lone surrogate as U+FFFD). A UTF-16 code unit takes at most 3 UTF-8 bytes, so a
 * string of up to a third of its size always fits; longer ones get a Buffer of their own.
 */
const scratch = new Uint8Array(3 * 1024);
const encoder = new TextEncoder();

function hashKey(hash: PrefixHash, key: unknown): number {
  if (Buffer.isBuffer(key)) return hash(key, key.length);
  const text = typeof key === 'string' ? key : String(key);
  if (text.length * 3 <= scratch.length) return hash(scratch, encoder.encodeInto(text, scratch).written);
  const bytes = Buffer.from(text, 'utf8');
  return hash(bytes, bytes.length);
}

/** The random start of a topic's keyless counter, as KafkaJS draws it: 32 random bits. */
function randomCounterStart(): number {
  return randomBytes(4).readUInt32BE(0);
}

/**
 * A KafkaJS built-in partitioner around `hash`. `counterStart` is how each topic's keyless
 * counter begins; tests pass a fixed one to compare sequences with KafkaJS's.
 *
 * One difference from KafkaJS: the counters live in a Map, where KafkaJS used a plain
 * object, so a topic named "constructor" or "toString" found an inherited property there,
 * its counter became NaN and every keyless message went to the first available partition.
 */
export function createKafkaJSPartitioner(
  hash: PrefixHash,
  counterStart: () => number = randomCounterStart,
): (args: PartitionerArgs) => number {
  const counters = new Map<string, number>();
  return ({ topic, partitionMetadata, message }) => {
    // KafkaJS draws the start on a topic's first message, keyed or not; so do we, so that a
    // fixed sequence of starts lines up with KafkaJS's in tests.
    let counter = counters.get(topic);
    if (counter === undefined) counter = counterStart();

    if (message.partition !== null && message.partition !== undefined) {
      counters.set(topic, counter);
      return message.partition;
    }
    const numPartitions = partitionMetadata.length;
    if (message.key !== null && message.key !== undefined) {
      counters.set(topic, counter);
      return toPositive(hashKey(hash, message.key)) % numPartitions;
    }

    // KafkaJS pre-increments a counter that grows without bound and reads its low 31 bits;
    // wrapping it at 2^32 keeps those bits identical and the number small.
    counter = (counter + 1) >>> 0;
    counters.set(topic, counter);
    let available = 0;
    for (let i = 0; i < numPartitions; i++) if (partitionMetadata[i].leader >= 0) available++;
    if (available === 0) {
      // No partition has a leader: give one anyway, as KafkaJS does.
      return toPositive(counter) % numPartitions;
    }
    // The n-th partition with a leader, in metadata order, without building the filtered list.
    let wanted = toPositive(counter) % available;
    for (let i = 0; ; i++) {
      if (partitionMetadata[i].leader >= 0 && wanted-- === 0) return partitionMetadata[i].partitionId;
    }
  };
}

const createDefaultPartitioner: DefaultPartitioner = () => createKafkaJSPartitioner(murmur2Prefix);
const createLegacyPartitioner: LegacyPartitioner = () => createKafkaJSPartitioner(legacyMurmur2Prefix);

export const Partitioners: {
  DefaultPartitioner: DefaultPartitioner;
  LegacyPartitioner: LegacyPartitioner;
  /**
   * @deprecated Use DefaultPartitioner instead
   *
   * KafkaJS renamed JavaCompatiblePartitioner to DefaultPartitioner and made it the default
   * in 2.0.0; the old name is the same factory (the same function object, as in KafkaJS).
   */
  JavaCompatiblePartitioner: DefaultPartitioner;
} = {
  DefaultPartitioner: createDefaultPartitioner,
  LegacyPartitioner: createLegacyPartitioner,
  JavaCompatiblePartitioner: createDefaultPartitioner,
};
