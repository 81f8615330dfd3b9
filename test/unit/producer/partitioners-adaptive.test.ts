/**
 * Adaptive partitioning (KIP-794): the sticky partitioner's next partition is drawn with
 * weight (longest queue + 1 − queue) among partitions whose leaders are available, and a
 * leader that has had sendable batches for partitioner.availability.timeout.ms without taking
 * any drops out. Exact draws with a scripted rng; then the whole producer against the fake
 * cluster with one broker holding its requests. Also partitionsFor().
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { UniformStickyPartitioner, type PartitionLoad } from '../../../ts/producer/partitioners.js';
import { Producer } from '../../../ts/producer/producer.js';
import { ApiKey, FakeCluster } from '../../helpers/fake-cluster.js';

function load(queues: number[], unavailable: number[] = []): PartitionLoad {
  return {
    queueSize: (_t, p) => queues[p] ?? 0,
    isAvailable: (_t, p) => !unavailable.includes(p),
  };
}

/** An rng that answers the given values in turn. */
function script(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}

const ALL = [0, 1, 2];

describe('adaptive sticky partitioner', () => {
  it('draws by weight (longest queue + 1 − queue), leaving out the current partition', () => {
    // Queues [0, 3, 3]. First pick (no current partition): weights 4, 1, 1, total 6;
    // 0.9 × 6 = 5.4 → past p0 (4) and p1 (1) → p2.
    const sp = new UniformStickyPartitioner(10, script(0.9, 0.7, 0.5), load([0, 3, 3]));
    assert.equal(sp.partition('t', 3, ALL), 2);
    // Current p2: weights 4, 1, 0, total 5; 0.7 × 5 = 3.5 → p0.
    sp.onAppend('t', 2, 10);
    assert.equal(sp.partition('t', 3, ALL), 0);
    // Current p0: weights 0, 1, 1, total 2; 0.5 × 2 = 1 → p1's share is [0, 1) → p2.
    sp.onAppend('t', 0, 10);
    assert.equal(sp.partition('t', 3, ALL), 2);
  });

  it('partitions behind long queues get fewer records (statistically, seeded rng)', () => {
    let seed = 12345;
    const rng = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const sp = new UniformStickyPartitioner(1, rng, load([0, 9, 9, 9]));
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 20_000; i++) {
      const p = sp.partition('t', 4, [0, 1, 2, 3]);
      counts[p]!++;
      sp.onAppend('t', p, 1);
    }
    // Weights 10, 1, 1, 1 (the current one excluded): p0 is chosen about every other switch.
    assert.ok(counts[0]! > 0.4 * 20_000, `p0 ${counts[0]}`);
    for (const c of counts.slice(1)) assert.ok(c < 0.25 * 20_000 && c > 0, `others ${counts}`);
  });

  it('equal queues: the same draws as the uniform partitioner', () => {
    const values = [0.1, 0.9, 0.4, 0.6, 0.3];
    const a = new UniformStickyPartitioner(1, script(...values), load([2, 2, 2]));
    const b = new UniformStickyPartitioner(1, script(...values));
    for (let i = 0; i < 5; i++) {
      const pa = a.partition('t', 3, ALL);
      assert.equal(pa, b.partition('t', 3, ALL));
      a.onAppend('t', pa, 1);
      b.onAppend('t', pa, 1);
    }
  });

  it('unavailable leaders are left out; when none is available the draw is uniform over all', () => {
    const sp = new UniformStickyPartitioner(1, script(0.99, 0.99, 0.99), load([0, 0, 0], [2]));
    // Even the first pick leaves it out: 0.99 over p0, p1 → p1.
    let p = sp.partition('t', 3, ALL);
    assert.equal(p, 1);
    for (let i = 0; i < 5; i++) {
      sp.onAppend('t', p, 1);
      p = sp.partition('t', 3, ALL);
      assert.notEqual(p, 2, 'partition 2 is unavailable');
    }
    const none = new UniformStickyPartitioner(1, script(0, 0.99), load([0, 0, 0], [0, 1, 2]));
    assert.equal(none.partition('t', 3, ALL), 0);
    none.onAppend('t', 0, 1);
    assert.equal(none.partition('t', 3, ALL), 2, 'uniform among the others');
  });
});

describe('adaptive partitioning in the producer', () => {
  let fake: FakeCluster | null = null;
  let producer: Producer | null = null;
  afterEach(async () => {
    await producer?.close({ timeoutMs: 1000 }).catch(() => undefined);
    await fake?.stop();
    producer = null;
    fake = null;
  });

  it('a leader that cannot take batches for partitioner.availability.timeout.ms gets no new keyless records', async () => {
    fake = await FakeCluster.start({ brokers: 2, topics: [{ name: 't', partitions: 2 }] }); // p0 on node 0, p1 on node 1
    producer = new Producer({
      'bootstrap.servers': fake.bootstrap,
      'linger.ms': 0,
      'batch.size': 100,
      acks: 1,
      'enable.idempotence': false,
      'partitioner.availability.timeout.ms': 100,
    });
    await Promise.all([0, 1].map((partition) => producer!.send({ topic: 't', partition, value: 'warm' })));
    const hold = fake.prepare(ApiKey.Produce, { hold: true, node: 1 })!;
    let heldAt = -1;
    let heldTime = 0;
    const sends: Promise<{ partition: number }>[] = [];
    void hold.received.then(() => {
      heldAt = sends.length;
      heldTime = Date.now();
    });
    // Keep sending until node 1 has held its requests for well past the timeout (however slow
    // the machine is to get there), so its 5 in-flight slots are full and it stops draining.
    const started = Date.now();
    while (heldTime === 0 || Date.now() - heldTime < 600) {
      assert.ok(Date.now() - started < 20_000, 'node 1 got a request (partition 1 was in the rotation)');
      sends.push(producer.send({ topic: 't', value: 'x'.repeat(60) }));
      await sleep(2);
    }
    const lateFrom = sends.length;
    for (let i = 0; i < 50; i++) sends.push(producer.send({ topic: 't', value: 'late' }));
    hold.release();
    const mds = await Promise.all(sends);
    // Sent 600 ms after node 1's first request was held (its 5 requests in flight held since).
    assert.deepEqual(new Set(mds.slice(lateFrom).map((m) => m.partition)), new Set([0]));
    assert.ok(mds.slice(0, heldAt + 1).some((m) => m.partition === 1));
  });

  it('partitionsFor(): leaders, replicas and in-sync replicas with host and port; fetches metadata when needed', async () => {
    fake = await FakeCluster.start({ brokers: 2, topics: [{ name: 't', partitions: 3 }] });
    producer = new Producer({ 'bootstrap.servers': fake.bootstrap });
    const parts = await producer.partitionsFor('t');
    assert.equal(parts.length, 3);
    const byId = new Map(fake.brokerList.map((b) => [b.nodeId, b]));
    for (const p of parts) {
      assert.equal(p.topic, 't');
      const leader = byId.get(p.partition % 2)!;
      assert.deepEqual(p.leader, { id: leader.nodeId, host: leader.host, port: leader.port });
      assert.ok(p.replicas.some((r) => r.id === leader.nodeId));
      assert.ok(p.inSyncReplicas.length >= 1);
      assert.deepEqual(p.offlineReplicas, []);
    }
    await assert.rejects(producer.partitionsFor(''), /Invalid topic/);
  });
});
