import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Partitioners as KafkaJSPartitioners } from 'kafkajs';
import {
  createKafkaJSPartitioner,
  legacyMurmur2,
  legacyMurmur2Prefix,
  Partitioners,
  type PartitionerArgs,
  type PartitionMetadata,
} from '../../../ts/kafkajs/partitioners.js';
import { murmur2Prefix } from '../../../ts/producer/partitioners.js';

type Partition = (args: PartitionerArgs) => number;
type Key = PartitionerArgs['message']['key'];

/** A seeded xorshift32, so a failing random case can be replayed. */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x1_0000_0000;
  };
}

function metadata(n: number, leaderless: readonly number[] = [], order?: readonly number[]): PartitionMetadata[] {
  const ids = order ?? Array.from({ length: n }, (_, i) => i);
  return ids.map((id) => ({
    partitionErrorCode: 0,
    partitionId: id,
    leader: leaderless.includes(id) ? -1 : id % 3,
    replicas: [0, 1, 2],
    isr: [0, 1, 2],
    offlineReplicas: [],
  }));
}

/** Random keys: ASCII, BMP and astral text, lone surrogates, and raw bytes as Buffers. */
function randomKeys(count: number, seed: number): Key[] {
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const keys: Key[] = [];
  for (let i = 0; i < count; i++) {
    const len = int(40);
    switch (i % 4) {
      case 0:
        keys.push(Buffer.from(Array.from({ length: len }, () => int(256))));
        break;
      case 1:
        keys.push(Array.from({ length: len }, () => String.fromCharCode(0x20 + int(95))).join(''));
        break;
      case 2:
        keys.push(Array.from({ length: len }, () => String.fromCharCode(int(0x10000))).join(''));
        break;
      default:
        keys.push(Array.from({ length: len }, () => String.fromCodePoint(int(0x110000))).join(''));
    }
  }
  return keys;
}

const PARTITION_COUNTS = [1, 2, 3, 5, 7, 8, 10, 16, 31, 32, 64, 100, 128, 1000];

function compareKeyed(ours: Partition, theirs: Partition, keys: readonly Key[]): void {
  for (const n of PARTITION_COUNTS) {
    // Some partitions leaderless: keyed records must ignore that.
    const partitionMetadata = metadata(n, n > 2 ? [1] : []);
    for (const key of keys) {
      const args = { topic: 'topic', partitionMetadata, message: { key, value: null } };
      const expected = theirs(args);
      const got = ours(args);
      if (got !== expected) assert.equal(got, expected, `key ${JSON.stringify(key)}, ${n} partitions`);
    }
  }
}

/**
 * Replaces crypto.getRandomValues, which KafkaJS's randomBytes() calls, so its per-topic
 * counters start at `starts` in order; returns the restore function.
 */
function stubKafkaJSRandom(starts: readonly number[]): () => void {
  const crypto = (globalThis as unknown as { crypto: object }).crypto;
  let next = 0;
  const fake = <T extends ArrayBufferView | null>(array: T): T => {
    const view = Buffer.from(array!.buffer, array!.byteOffset, array!.byteLength);
    view.fill(0);
    view.writeUInt32BE(starts[next++ % starts.length], 0);
    return array;
  };
  Object.defineProperty(crypto, 'getRandomValues', { value: fake, configurable: true, writable: true });
  return () => {
    delete (crypto as { getRandomValues?: unknown }).getRandomValues;
  };
}

describe('KafkaJS Partitioners: keyed messages', () => {
  const keys = randomKeys(10_000, 0xc0ffee);

  it('DefaultPartitioner picks what KafkaJS DefaultPartitioner picks (10k keys)', () => {
    compareKeyed(Partitioners.DefaultPartitioner(), KafkaJSPartitioners.DefaultPartitioner(), keys);
  });

  it('JavaCompatiblePartitioner picks what KafkaJS JavaCompatiblePartitioner picks (10k keys)', () => {
    compareKeyed(Partitioners.JavaCompatiblePartitioner(), KafkaJSPartitioners.JavaCompatiblePartitioner(), keys);
  });

  it('LegacyPartitioner picks what KafkaJS LegacyPartitioner picks (10k keys)', () => {
    compareKeyed(Partitioners.LegacyPartitioner(), KafkaJSPartitioners.LegacyPartitioner(), keys);
  });

  it('LegacyPartitioner agrees with KafkaJS for every key length 0..70 with high bytes', () => {
    const rnd = prng(5);
    const keyList: Key[] = [];
    for (let len = 0; len <= 70; len++) {
      for (let j = 0; j < 20; j++) {
        keyList.push(Buffer.from(Array.from({ length: len }, () => (j % 2 ? 0x80 : 0) | Math.floor(rnd() * 256))));
      }
    }
    compareKeyed(Partitioners.LegacyPartitioner(), KafkaJSPartitioners.LegacyPartitioner(), keyList);
  });

  it('hashes keys as KafkaJS does: Buffer bytes, otherwise the text of String(key)', () => {
    const partitionMetadata = metadata(97);
    const odd: unknown[] = ['', 0, 12345, -1, true, new Uint8Array([1, 2, 3]), 'x'.repeat(5000), '\u00e9'.repeat(2000)];
    for (const make of ['DefaultPartitioner', 'LegacyPartitioner'] as const) {
      const ours = Partitioners[make]();
      const theirs = KafkaJSPartitioners[make]();
      for (const key of odd) {
        const args = { topic: 't', partitionMetadata, message: { key: key as Key, value: null } };
        assert.equal(ours(args), theirs(args), `${make}, key ${String(key).slice(0, 20)}`);
      }
    }
  });

  it('is the same factory under both names, as in KafkaJS', () => {
    assert.equal(Partitioners.JavaCompatiblePartitioner, Partitioners.DefaultPartitioner);
    assert.notEqual(Partitioners.LegacyPartitioner, Partitioners.DefaultPartitioner);
  });
});

describe('legacyMurmur2', () => {
  it("matches KafkaJS 1.x's murmur2 test vectors", () => {
    const vectors: Record<string, number> = {
      '0': 272173970,
      '1': 1311020360,
      '128': 2053105854,
      '2187': -2081355488,
      '16384': 204404061,
      '78125': -677491393,
      '279936': -622460209,
      '823543': 651276451,
      '2097152': 944683677,
      '4782969': -892695770,
      '10000000': -1778616326,
      '19487171': -518311627,
      '35831808': 556972389,
      '62748517': -233806557,
      '105413504': -109398538,
      '170859375': 102939717,
    };
    for (const [key, expected] of Object.entries(vectors)) assert.equal(legacyMurmur2(Buffer.from(key)), expected, key);
  });

  it('differs from Java murmur2 (why LegacyPartitioner exists)', () => {
    const key = Buffer.from('21');
    assert.notEqual(legacyMurmur2(key), murmur2Prefix(key, key.length));
  });
});

describe('KafkaJS Partitioners: explicit partition', () => {
  it('returns message.partition unchecked, even 0 or out of range, key or not', () => {
    for (const make of ['DefaultPartitioner', 'LegacyPartitioner', 'JavaCompatiblePartitioner'] as const) {
      const p = Partitioners[make]();
      const partitionMetadata = metadata(3);
      assert.equal(p({ topic: 't', partitionMetadata, message: { key: '1', value: null, partition: 99 } }), 99);
      assert.equal(p({ topic: 't', partitionMetadata, message: { key: '1', value: null, partition: 0 } }), 0);
      assert.equal(p({ topic: 't', partitionMetadata, message: { value: null, partition: 2 } }), 2);
    }
  });
});

describe('KafkaJS Partitioners: keyless messages', () => {
  const shapes: Array<[string, PartitionMetadata[]]> = [
    ['all led, in order', metadata(6)],
    ['all led, shuffled', metadata(5, [], [3, 0, 4, 1, 2])],
    ['some leaderless, out of order', metadata(3, [1], [1, 2, 0])],
    ['none led', metadata(4, [0, 1, 2, 3])],
    ['none led, odd count', metadata(3, [0, 1, 2])],
    ['one partition', metadata(1)],
    ['7 partitions, 3 leaderless', metadata(7, [0, 3, 6])],
  ];
  // Starts near the points where the counter's low 31 bits wrap.
  const starts = [0, 1, 0x7ffffffd, 0x7fffffff, 0x80000000, 0xfffffffd, 0xffffffff, 123456789, 0xdeadbeef];

  it('follows the same sequence as KafkaJS from the same random start', () => {
    for (const [name, partitionMetadata] of shapes) {
      for (const start of starts) {
        for (const make of ['DefaultPartitioner', 'LegacyPartitioner'] as const) {
          let theirs: Partition;
          const restore = stubKafkaJSRandom([start]);
          try {
            theirs = KafkaJSPartitioners[make]();
            theirs({ topic: 't', partitionMetadata, message: { value: null } }); // draws the start now
          } finally {
            restore();
          }
          const ours = createKafkaJSPartitioner(make === 'DefaultPartitioner' ? murmur2Prefix : legacyMurmur2Prefix, () => start);
          ours({ topic: 't', partitionMetadata, message: { value: null } });
          for (let i = 0; i < 500; i++) {
            const args = { topic: 't', partitionMetadata, message: { key: i % 7 === 0 ? `k${i}` : null, value: null } };
            assert.equal(ours(args), theirs(args), `${make}, ${name}, start ${start}, message ${i}`);
          }
        }
      }
    }
  });

  it('draws one random start per topic on its first message, keyed or not, as KafkaJS does', () => {
    const seeds = [5, 0x7ffffffe, 42];
    const restore = stubKafkaJSRandom(seeds);
    let kafkajs: Partition;
    const sequence: Array<[string, Key]> = [
      ['a', 'key'],
      ['b', null],
      ['c', null],
      ['a', null],
      ['b', null],
      ['a', null],
      ['c', null],
    ];
    const expected: number[] = [];
    try {
      kafkajs = KafkaJSPartitioners.DefaultPartitioner();
      for (const [topic, key] of sequence) expected.push(kafkajs({ topic, partitionMetadata: metadata(5), message: { key, value: null } }));
    } finally {
      restore();
    }
    let n = 0;
    const ours = createKafkaJSPartitioner(murmur2Prefix, () => seeds[n++]);
    const got = sequence.map(([topic, key]) => ours({ topic, partitionMetadata: metadata(5), message: { key, value: null } }));
    assert.deepEqual(got, expected);
  });

  it('round-robins evenly over partitions with a leader, per topic (KafkaJS partitioner specs)', () => {
    for (const make of ['DefaultPartitioner', 'LegacyPartitioner'] as const) {
      const p = Partitioners[make]();
      const three = metadata(3, [], [1, 2, 0]);
      const counts = [0, 0, 0];
      for (let i = 0; i < 30; i++) counts[p({ topic: 'three', partitionMetadata: three, message: { value: null } })]++;
      assert.deepEqual(counts, [10, 10, 10]);

      const withLeaderless = metadata(3, [1], [1, 2, 0]);
      const seen = new Map<number, number>();
      for (let i = 0; i < 100; i++) {
        const part = p({ topic: 'leaderless', partitionMetadata: withLeaderless, message: { value: null } });
        seen.set(part, (seen.get(part) ?? 0) + 1);
      }
      assert.deepEqual([...seen.keys()].sort(), [0, 2]);
      assert.equal(seen.get(0), 50);

      const two = metadata(3, [0], [1, 2]);
      const perTopic = { a: new Map<number, number>(), b: new Map<number, number>() };
      for (let i = 0; i < 30; i++) {
        for (const topic of ['a', 'b'] as const) {
          const part = p({ topic, partitionMetadata: two, message: { value: null } });
          perTopic[topic].set(part, (perTopic[topic].get(part) ?? 0) + 1);
        }
      }
      for (const m of Object.values(perTopic)) assert.deepEqual([...m.entries()].sort(), [[1, 15], [2, 15]]);
    }
  });

  it('starts topics at random points, like KafkaJS (not always the first partition)', () => {
    const firsts = new Set<number>();
    for (let i = 0; i < 200; i++) {
      firsts.add(Partitioners.DefaultPartitioner()({ topic: 't', partitionMetadata: metadata(4), message: { value: null } }));
    }
    assert.deepEqual([...firsts].sort(), [0, 1, 2, 3]);
  });

  it('keeps a separate counter for topics named like Object.prototype members', () => {
    const p = Partitioners.DefaultPartitioner();
    const seen = new Set<number>();
    for (let i = 0; i < 6; i++) seen.add(p({ topic: 'constructor', partitionMetadata: metadata(3), message: { value: null } }));
    assert.equal(seen.size, 3);
  });
});
