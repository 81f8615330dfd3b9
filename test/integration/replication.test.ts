/**
 * The 3-broker cluster: acks=all with min.insync.replicas, and a leader failing in the middle
 * of a run (metadata refresh on NOT_LEADER_OR_FOLLOWER / connection loss, retries with
 * backoff). Read back by kcat.
 *
 * The main case runs twice: over PLAINTEXT and over the brokers' SASL_SSL listeners with
 * SCRAM-SHA-512 (issue 9: TLS and SASL on a replicated cluster, where the producer opens and
 * authenticates a connection to each partition leader, not only to one broker). kcat reads the
 * SASL_SSL topic back over the same listener with PLAIN, as Debian's kcat cannot do SCRAM with
 * Kafka 4. The leader failover runs a producer per listener through one and the same kill,
 * so the SASL_SSL side costs no broker restart of its own; the too-few-replicas case stays on
 * PLAINTEXT (what it checks, the error mapping, does not depend on the listener).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { getReplicatedCluster, topicLayout, uniqueTopic, type ReplicatedKafkaCluster } from '../helpers/broker.js';
import { kcatSecurity, readTopic } from '../helpers/kcat.js';
import { Producer } from '../../ts/index.js';
import type { ProducerConfig } from '../../ts/producer/options.js';

let cluster: ReplicatedKafkaCluster;

before(async () => {
  cluster = await getReplicatedCluster();
});
after(async () => {
  await cluster?.stop();
});

type Listener = 'PLAINTEXT' | 'SASL_SSL';

/** Where a listener's clients bootstrap, with the Java-style keys the producer needs there. */
function clientConfig(listener: Listener): ProducerConfig {
  if (listener === 'PLAINTEXT') return { 'bootstrap.servers': cluster.bootstrap };
  const bootstrap = cluster.listeners?.SASL_SSL;
  assert.ok(bootstrap, 'the 3-broker cluster has no SASL_SSL listeners (an outside cluster needs KAFKA_TURBO_TEST_SASL_SSL_3)');
  const user = 'bob';
  return {
    'bootstrap.servers': bootstrap,
    'security.protocol': 'SASL_SSL',
    'ssl.truststore.type': 'PEM',
    'ssl.truststore.location': cluster.certs.ca,
    'sasl.mechanism': 'SCRAM-SHA-512',
    'sasl.jaas.config': `org.apache.kafka.common.security.scram.ScramLoginModule required username="${user}" password="${cluster.users[user]}";`,
  };
}

/** kcat over the same listener (PLAIN on SASL_SSL). */
function readBack(listener: Listener, topic: string, count: number) {
  if (listener === 'PLAINTEXT') return readTopic(cluster.bootstrap, topic, count);
  return readTopic(cluster.listeners.SASL_SSL!, topic, count, { config: kcatSecurity(cluster, 'SASL_SSL', 'PLAIN') });
}

for (const listener of ['PLAINTEXT', 'SASL_SSL'] as const) {
  test(`acks=all on replication factor 3 over ${listener}: every record is acknowledged and read back`, async () => {
    const topic = uniqueTopic(`rep-${listener.toLowerCase()}`);
    await cluster.createTopic(topic, { partitions: 3, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } });
    // Three partitions, three different leaders: the producer must reach (and over SASL_SSL
    // handshake and authenticate with) every broker, not only the one it bootstrapped from.
    const layout = await topicLayout(cluster.bootstrap, topic);
    assert.equal(new Set(layout.map((p) => p.leader)).size, 3, `leaders ${layout.map((p) => p.leader)}`);
    const producer = new Producer({ ...clientConfig(listener), acks: 'all' });
    const mds = await Promise.all(Array.from({ length: 5000 }, (_, i) => producer.send({ topic, key: `k${i}`, value: `v${i}` })));
    await producer.close();
    assert.ok(mds.every((m) => m.offset >= 0));
    assert.deepEqual(new Set(mds.map((m) => m.partition)), new Set([0, 1, 2]));
    const got = await readBack(listener, topic, 5000);
    assert.equal(got.length, 5000);
    const values = new Set(got.map((r) => r.value!.toString()));
    for (let i = 0; i < 5000; i++) assert.ok(values.has(`v${i}`), `v${i} missing`);
  });
}

test('acks=all with too few in-sync replicas fails with NOT_ENOUGH_REPLICAS; acks=1 still works', async () => {
  const topic = uniqueTopic('minisr');
  // Kafka 4 caps min.insync.replicas at the replication factor, so: rf 3, min.insync 3, and
  // one follower stopped (a controlled shutdown takes it out of the ISR at once).
  await cluster.createTopic(topic, { partitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': '3' } });
  const [layout] = await topicLayout(cluster.bootstrap, topic);
  const follower = layout!.replicas.find((r) => r !== layout!.leader)!;
  const strict = new Producer({ 'bootstrap.servers': cluster.bootstrap, acks: 'all', retries: 2, 'retry.backoff.ms': 50 });
  assert.ok((await strict.send({ topic, value: 'while all replicas are in sync' })).offset >= 0);
  await cluster.stopBroker!(follower);
  try {
    await assert.rejects(strict.send({ topic, value: 'refused' }), (e: Error & { cause?: { type?: string } }) => {
      assert.equal(e.name, 'KafkaJSNumberOfRetriesExceeded');
      assert.equal(e.cause?.type, 'NOT_ENOUGH_REPLICAS');
      return true;
    });
    const relaxed = new Producer({ 'bootstrap.servers': cluster.bootstrap, acks: '1' });
    const md = await relaxed.send({ topic, value: 'acks=1 is enough' });
    await relaxed.close();
    assert.ok(md.offset >= 1);
  } finally {
    await strict.close();
    await cluster.startBroker!(follower);
  }
});

test('the leader dies mid-run: records are retried on the new leader and none is lost (one producer per listener)', async () => {
  const topic = uniqueTopic('failover');
  await cluster.createTopic(topic, { partitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } });
  const [layout] = await topicLayout(cluster.bootstrap, topic);
  const leader = layout!.leader;
  // Two producers through the same fault, one per listener: the SASL_SSL one must open,
  // handshake and authenticate a new connection to the new leader in the middle of the run.
  // Sharing the kill (and the restart after it) keeps the SASL_SSL case nearly free.
  const producers = (['PLAINTEXT', 'SASL_SSL'] as const).map((listener) => ({
    prefix: listener === 'PLAINTEXT' ? 'r' : 's',
    producer: new Producer({
      ...clientConfig(listener),
      acks: 'all',
      'retry.backoff.ms': 100,
      'request.timeout.ms': 5000,
      'delivery.timeout.ms': 60000,
    }),
  }));
  const total = 20_000;
  const sends: Promise<unknown>[] = [];
  let stopped: Promise<void> | null = null;
  try {
    for (let i = 0; i < total; i++) {
      for (const { prefix, producer } of producers) sends.push(producer.send({ topic, value: `${prefix}${i}` }));
      if (i === total / 4) {
        // Let part of the run be acknowledged by the first leader, then kill it.
        await Promise.all(sends);
        stopped = cluster.stopBroker!(leader, { hard: true });
      }
      if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
    }
    const results = await Promise.allSettled(sends);
    await stopped;
    const failed = results.filter((r) => r.status === 'rejected');
    assert.equal(failed.length, 0, `failed: ${failed.slice(0, 3).map((f) => (f as PromiseRejectedResult).reason?.message)}`);
  } finally {
    await Promise.all(producers.map(({ producer }) => producer.close()));
  }
  const [after] = await topicLayout(cluster.bootstrap, topic);
  assert.notEqual(after!.leader, leader, 'leadership moved');
  // Without idempotence a retried request may have been written twice (as with the Java
  // client): every record must be there at least once, and nothing else.
  const got = await readTopic(cluster.bootstrap, topic, 2 * total, { timeoutMs: 60000 });
  const seen = new Set(got.map((r) => r.value!.toString()));
  for (let i = 0; i < total; i++) {
    assert.ok(seen.has(`r${i}`), `r${i} (PLAINTEXT) lost`);
    assert.ok(seen.has(`s${i}`), `s${i} (SASL_SSL) lost`);
  }
  assert.ok(got.every((r) => /^[rs]\d+$/.test(r.value!.toString())));
  await cluster.startBroker!(leader);
});
