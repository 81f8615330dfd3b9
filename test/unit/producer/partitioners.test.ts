import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Partitioners } from 'kafkajs';
import {
  keyedPartition,
  murmur2,
  murmur2Prefix,
  resolvePartitioner,
  RoundRobinPartitioner,
  toPositive,
  UniformStickyPartitioner,
  type PartitionerContext,
} from '../../../ts/producer/partitioners.js';
import { KafkaJSNonRetriableError } from '../../../ts/errors.js';

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

/** An rng that replays `values` (each in [0, 1)) in a loop. */
function fixedRandom(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length];
}

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

describe('murmur2', () => {
  it('matches the Java client (UtilsTest.testMurmur2)', () => {
    const cases: Array<[Uint8Array, number]> = [
      [utf8('21'), -973932308],
      [utf8('foobar'), -790332482],
      [utf8('a-little-bit-long-string'), -985981536],
      [utf8('a-little-bit-longer-string'), -1486304829],
      [utf8('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'), -58897971],
      [new Uint8Array([0x61, 0x62, 0x63]), 479470107],
    ];
    for (const [data, expected] of cases) assert.equal(murmur2(data), expected, Buffer.from(data).toString());
  });

  it('matches values printed by the Java client (KafkaJS defaultJava/Test.java)', () => {
    const cases: Record<string, number> = {
      '0': 971027396,
      '1': -1993445489,
      '128': -326012175,
      '2187': -1508407203,
      '16384': -325739742,
      '78125': -1654490814,
      '279936': 1462227128,
      '823543': -2014198330,
      '2097152': 607668903,
      '4782969': -1182699775,
      '10000000': -1830336757,
      '19487171': -1603849305,
      '35831808': -857013643,
      '62748517': -1167431028,
      '105413504': -381294639,
      '170859375': -1658323481,
      '100:48069': 1009543857,
    };
    for (const [key, expected] of Object.entries(cases)) assert.equal(murmur2(utf8(key)), expected, key);
  });

  it('returns a signed 32-bit integer for every length, including empty', () => {
    const rnd = prng(7);
    for (let len = 0; len < 64; len++) {
      const data = Uint8Array.from({ length: len }, () => Math.floor(rnd() * 256));
      const h = murmur2(data);
      assert.ok(Number.isInteger(h) && h >= -0x8000_0000 && h <= 0x7fff_ffff, `length ${len}: ${h}`);
    }
  });

  it('hashes a Uint8Array, a Buffer and a Buffer slice alike', () => {
    const bytes = utf8('some-key-with-odd-length');
    const backing = Buffer.concat([utf8('xx'), bytes, utf8('yyy')]);
    const slice = backing.subarray(2, 2 + bytes.length);
    const expected = murmur2(bytes);
    assert.equal(murmur2(new Uint8Array(bytes)), expected);
    assert.equal(murmur2(slice), expected);
    assert.equal(murmur2Prefix(Buffer.concat([bytes, utf8('garbage')]), bytes.length), expected);
  });

  it('agrees with KafkaJS JavaCompatiblePartitioner on 10k random keys for 1..100 partitions', () => {
    const kafkajs = Partitioners.JavaCompatiblePartitioner();
    const metadata = Array.from({ length: 101 }, (_, n) =>
      Array.from({ length: n }, (_, id) => ({ partitionErrorCode: 0, partitionId: id, leader: 0, replicas: [0], isr: [0] })),
    );
    const rnd = prng(0x5eed);
    let mismatches = 0;
    for (let i = 0; i < 10_000; i++) {
      const key = Buffer.from(Array.from({ length: Math.floor(rnd() * 48) }, () => Math.floor(rnd() * 256)));
      for (let n = 1; n <= 100; n++) {
        const theirs = kafkajs({ topic: 't', partitionMetadata: metadata[n], message: { key, value: null } });
        const ours = keyedPartition(key, n);
        if (ours !== theirs) {
          mismatches++;
          assert.equal(ours, theirs, `key ${key.toString('hex')}, ${n} partitions`);
        }
      }
    }
    assert.equal(mismatches, 0);
  });
});

describe('toPositive', () => {
  it('clears the sign bit like Utils.toPositive (not Math.abs)', () => {
    assert.equal(toPositive(0), 0);
    assert.equal(toPositive(42), 42);
    assert.equal(toPositive(0x7fffffff), 0x7fffffff);
    assert.equal(toPositive(-1), 0x7fffffff);
    assert.equal(toPositive(-0x8000_0000), 0);
    assert.equal(toPositive(-973932308), 1173551340);
  });
});

describe('keyedPartition', () => {
  it('is toPositive(murmur2(key)) % numPartitions', () => {
    // murmur2("21") = -973932308 -> 1173551340
    assert.equal(keyedPartition(utf8('21'), 1), 0);
    assert.equal(keyedPartition(utf8('21'), 7), 1173551340 % 7);
    assert.equal(keyedPartition(utf8('21'), 100), 40);
    assert.equal(keyedPartition(utf8('abc'), 1000), 479470107 % 1000);
  });

  it('gives the same partition for the same key (DefaultPartitionerTest.testKeyPartitionIsStable)', () => {
    const key = utf8('key');
    assert.equal(keyedPartition(key, 3), keyedPartition(Buffer.from('key'), 3));
  });
});

describe('UniformStickyPartitioner', () => {
  it('stays on a partition until batch.size bytes, then switches (BuiltInPartitionerTest.testStickyPartitioning)', () => {
    const p = new UniformStickyPartitioner(3, fixedRandom(0, 0.4, 0.9, 0.1));
    const a = p.partition('topicA', 3, [0, 1, 2]);
    for (let i = 0; i < 3; i++) {
      assert.equal(p.partition('topicA', 3, [0, 1, 2]), a);
      p.onAppend('topicA', a, 1);
    }
    assert.notEqual(p.partition('topicA', 3, [0, 1, 2]), a);

    // Switching works with a single partition too: it stays on it.
    const b = new UniformStickyPartitioner(1, fixedRandom(0.5));
    for (let i = 0; i < 10; i++) {
      assert.equal(b.partition('topicB', 1, [0]), 0);
      b.onAppend('topicB', 0, 1);
    }
  });

  it('never picks a partition without a leader (BuiltInPartitionerTest.unavailablePartitionsTest)', () => {
    const p = new UniformStickyPartitioner(1, prng(11));
    // topicA: partition 1 has no leader.
    const first = p.partition('topicA', 3, [0, 2]);
    p.onAppend('topicA', first, 1);
    assert.notEqual(first, 1);
    let other = false;
    for (let i = 0; i < 100; i++) {
      const next = p.partition('topicA', 3, [0, 2]);
      assert.notEqual(next, 1);
      other ||= next !== first;
      p.onAppend('topicA', next, 1);
    }
    assert.ok(other, `expected a partition other than ${first}`);

    // topicB: only partition 1 has a leader.
    for (let i = 0; i < 100; i++) {
      assert.equal(p.partition('topicB', 2, [1]), 1);
      p.onAppend('topicB', 1, 1);
    }

    // topicC: one partition, no leader: still chosen.
    assert.equal(p.partition('topicC', 1, []), 0);
    p.onAppend('topicC', 0, 1);
    assert.equal(p.partition('topicC', 1, []), 0);
  });

  it('picks among all partitions when none has a leader', () => {
    const p = new UniformStickyPartitioner(1, fixedRandom(0.99, 0.0, 0.5));
    assert.equal(p.partition('t', 4, []), 3);
    p.onAppend('t', 3, 1);
    assert.equal(p.partition('t', 4, []), 0);
    p.onAppend('t', 0, 1);
    assert.equal(p.partition('t', 4, []), 2);
  });

  it('rejects batch sizes below 1 (testStickyBatchSizeMoreThatZero)', () => {
    assert.throws(() => new UniformStickyPartitioner(0), RangeError);
    assert.throws(() => new UniformStickyPartitioner(-5), RangeError);
    assert.throws(() => new UniformStickyPartitioner(1.5), RangeError);
    assert.doesNotThrow(() => new UniformStickyPartitioner(1));
  });

  it('picks the first partition at random among the available ones', () => {
    assert.equal(new UniformStickyPartitioner(10, fixedRandom(0)).partition('t', 5, [4, 1, 3]), 4);
    assert.equal(new UniformStickyPartitioner(10, fixedRandom(0.5)).partition('t', 5, [4, 1, 3]), 1);
    assert.equal(new UniformStickyPartitioner(10, fixedRandom(0.999)).partition('t', 5, [4, 1, 3]), 3);
    // An rng that (wrongly) returns 1 still gives a valid index.
    assert.equal(new UniformStickyPartitioner(10, fixedRandom(1)).partition('t', 5, [4, 1, 3]), 3);
  });

  it('switches once the bytes reach batch.size, counting several appends', () => {
    const p = new UniformStickyPartitioner(100, prng(3));
    const avail = [0, 1, 2, 3, 4, 5];
    const a = p.partition('t', 6, avail);
    p.onAppend('t', a, 40);
    p.onAppend('t', a, 59);
    assert.equal(p.partition('t', 6, avail), a, '99 bytes < 100');
    p.onAppend('t', a, 1);
    const b = p.partition('t', 6, avail);
    assert.notEqual(b, a, '100 bytes >= 100');
    // The count restarts for the new partition.
    p.onAppend('t', b, 99);
    assert.equal(p.partition('t', 6, avail), b);
    // One record larger than batch.size switches at once.
    p.onAppend('t', b, 1000);
    assert.notEqual(p.partition('t', 6, avail), b);
  });

  it('always moves to a different partition when more than one is available', () => {
    const p = new UniformStickyPartitioner(1, prng(99));
    const avail = [0, 1, 2];
    const counts = [0, 0, 0];
    let prev = p.partition('t', 3, avail);
    for (let i = 0; i < 30_000; i++) {
      p.onAppend('t', prev, 1);
      const next = p.partition('t', 3, avail);
      assert.notEqual(next, prev);
      counts[next]++;
      prev = next;
    }
    for (const c of counts) assert.ok(c > 9_000 && c < 11_000, `uneven: ${counts}`);
  });

  it('moves off a partition that lost its leader when it switches', () => {
    const p = new UniformStickyPartitioner(1, fixedRandom(0.5));
    const a = p.partition('t', 3, [0, 1, 2]);
    assert.equal(a, 1);
    // Partition 1 lost its leader: the switch picks among the others.
    assert.equal(p.partition('t', 3, [0, 2]), 1, 'no switch before batch.size');
    p.onAppend('t', 1, 1);
    assert.ok([0, 2].includes(p.partition('t', 3, [0, 2])));
  });

  it('ignores bytes appended to other partitions', () => {
    const p = new UniformStickyPartitioner(10, fixedRandom(0));
    const a = p.partition('t', 3, [0, 1, 2]);
    p.onAppend('t', a + 1, 1_000);
    p.onAppend('unknown-topic', a, 1_000);
    assert.equal(p.partition('t', 3, [0, 1, 2]), a);
  });

  it('keeps one sticky partition per topic', () => {
    const p = new UniformStickyPartitioner(10, fixedRandom(0, 0.9));
    const a = p.partition('a', 2, [0, 1]);
    const b = p.partition('b', 2, [0, 1]);
    assert.equal(a, 0);
    assert.equal(b, 1);
    p.onAppend('a', a, 10);
    assert.equal(p.partition('a', 2, [0, 1]), 1);
    assert.equal(p.partition('b', 2, [0, 1]), 1, 'b unaffected by a');
  });
});

describe('RoundRobinPartitioner', () => {
  it('cycles over available partitions only (testRoundRobinWithUnavailablePartitions)', () => {
    // Metadata order 1, 2, 0 with partition 1 leaderless: available = [2, 0].
    const p = new RoundRobinPartitioner();
    const counts = new Map<number, number>();
    for (let i = 0; i < 100; i++) {
      const part = p.partition('test', 3, [2, 0]);
      assert.ok(part === 0 || part === 2);
      counts.set(part, (counts.get(part) ?? 0) + 1);
    }
    assert.equal(counts.get(0), 50);
    assert.equal(counts.get(2), 50);
  });

  it('starts at the first available partition and keeps a counter per topic', () => {
    const p = new RoundRobinPartitioner();
    const counts = [0, 0, 0];
    for (let i = 0; i < 30; i++) {
      counts[p.partition('topicA', 3, [0, 1, 2])]++;
      if (i % 5 === 0) p.partition('topicB', 1, [0]);
    }
    assert.deepEqual(counts, [10, 10, 10]);
    const q = new RoundRobinPartitioner();
    assert.deepEqual(
      Array.from({ length: 5 }, () => q.partition('x', 4, [3, 1, 0, 2])),
      [3, 1, 0, 2, 3],
    );
  });

  it('spreads evenly over an even partition count (testRoundRobinWithNullKeyBytesAndEvenPartitionCount)', () => {
    const p = new RoundRobinPartitioner();
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 40; i++) {
      counts[p.partition('topicA', 4, [0, 1, 2, 3])]++;
      if (i % 5 === 0) p.partition('topicB', 1, [0]);
    }
    assert.deepEqual(counts, [10, 10, 10, 10]);
  });

  it('falls back to all partitions when none has a leader', () => {
    const p = new RoundRobinPartitioner();
    assert.deepEqual(
      Array.from({ length: 4 }, () => p.partition('t', 3, [])),
      [0, 1, 2, 0],
    );
  });
});

describe('resolvePartitioner', () => {
  const ctx = (over: Partial<PartitionerContext> = {}): PartitionerContext => ({
    topic: 't',
    key: null,
    value: null,
    numPartitions: 6,
    availablePartitions: [0, 1, 2, 3, 4, 5],
    ...over,
  });

  it("'default' hashes keys over all partitions, even those without a leader", () => {
    const p = resolvePartitioner('default', 16384);
    for (const key of ['21', 'foobar', 'abc', 'a-little-bit-long-string']) {
      const expected = keyedPartition(utf8(key), 6);
      assert.equal(p.partition(ctx({ key: utf8(key), availablePartitions: [] })), expected, key);
      assert.equal(p.partition(ctx({ key: utf8(key), availablePartitions: [expected === 0 ? 1 : 0] })), expected);
    }
    // An empty key is a key (Java hashes byte[0]); only null means none.
    assert.equal(p.partition(ctx({ key: Buffer.alloc(0) })), keyedPartition(new Uint8Array(0), 6));
  });

  it("'default' is sticky for keyless records and switches after batch.size bytes", () => {
    const p = resolvePartitioner('default', 100);
    const first = p.partition(ctx());
    for (let i = 0; i < 9; i++) {
      assert.equal(p.partition(ctx()), first);
      p.onAppend('t', first, 10);
    }
    assert.equal(p.partition(ctx()), first);
    p.onAppend('t', first, 10);
    assert.notEqual(p.partition(ctx()), first);
  });

  it("'default' treats batch.size 0 as 1, as Java does", () => {
    const p = resolvePartitioner('default', 0);
    let prev = p.partition(ctx());
    for (let i = 0; i < 20; i++) {
      p.onAppend('t', prev, 1);
      const next = p.partition(ctx());
      assert.notEqual(next, prev);
      prev = next;
    }
  });

  it("'sticky' ignores keys", () => {
    const p = resolvePartitioner('sticky', 1_000);
    const first = p.partition(ctx({ key: utf8('a') }));
    for (const key of ['b', 'c', 'd', 'e', 'f', 'g']) assert.equal(p.partition(ctx({ key: utf8(key) })), first);
  });

  it("'round-robin' ignores keys and cycles over available partitions", () => {
    const p = resolvePartitioner('round-robin', 16384);
    const got = Array.from({ length: 7 }, () => p.partition(ctx({ key: utf8('same'), availablePartitions: [5, 2, 0] })));
    assert.deepEqual(got, [5, 2, 0, 5, 2, 0, 5]);
    p.onAppend('t', 5, 1_000_000); // no effect, no error
  });

  it('calls a custom function with the context and returns its answer', () => {
    const seen: PartitionerContext[] = [];
    const p = resolvePartitioner((c) => {
      seen.push(c);
      return c.numPartitions - 1;
    }, 16384);
    const c = ctx({ key: utf8('k'), value: utf8('v') });
    assert.equal(p.partition(c), 5);
    assert.equal(seen[0], c);
    p.onAppend('t', 5, 10);
  });

  it('rejects a custom answer that is not an integer in [0, numPartitions), naming topic and value', () => {
    for (const bad of [-1, 6, 7, 1.5, NaN, Infinity, '2' as unknown as number, undefined as unknown as number, null as unknown as number]) {
      const p = resolvePartitioner(() => bad, 16384);
      assert.throws(
        () => p.partition(ctx({ topic: 'orders' })),
        (err: unknown) => {
          assert.ok(err instanceof KafkaJSNonRetriableError);
          assert.equal(err.code, 'INVALID_PARTITION');
          assert.match(err.message, /"orders"/);
          assert.ok(err.message.includes(typeof bad === 'string' ? JSON.stringify(bad) : String(bad)), err.message);
          assert.match(err.message, /\[0, 6\)/);
          return true;
        },
      );
    }
  });

  it('rejects an unknown name and a topic without partitions', () => {
    assert.throws(() => resolvePartitioner('murmur3' as 'default', 1), TypeError);
    const p = resolvePartitioner('default', 1);
    assert.throws(() => p.partition(ctx({ topic: 'empty', numPartitions: 0, availablePartitions: [] })), /"empty"/);
  });
});
