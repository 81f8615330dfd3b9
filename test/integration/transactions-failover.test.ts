/**
 * A transaction across 3 topics × 6 partitions on the 3-broker cluster survives the kill -9
 * of its transaction coordinator's broker and commits exactly once (issue 14, "Must show" 3).
 *
 * Half of the records are acknowledged, then the broker that coordinates the transactional id
 * (as FindCoordinator named it) is killed with SIGKILL; the other half is sent while the
 * cluster elects new leaders for its partitions and a new coordinator for the id
 * (__transaction_state has replication factor 3), then the offsets and the commit. kcat
 * reads every partition back, read_committed and read_uncommitted: each record is there
 * exactly once, in send order per partition, and nothing else. The cluster is made whole
 * again in a finally.
 */
import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { getCluster, uniqueTopic, type KafkaCluster } from '../helpers/broker.js';
import { readTopic } from '../helpers/kcat.js';
import { Producer } from '../../ts/index.js';

const TOPICS = 3;
const PARTITIONS = 6;
const PER_PARTITION = 100;

let cluster: KafkaCluster;
before(async () => {
  cluster = await getCluster({ brokers: 3 });
  assert.ok(cluster.stopBroker && cluster.ensureAllRunning, 'the 3-broker cluster can stop brokers');
});

it('kill -9 of the transaction coordinator mid-transaction: the transaction commits, every record exactly once', async () => {
  const runId = `${Date.now().toString(36)}-${process.env.KAFKA_TURBO_BACKEND ?? 'auto'}`;
  const topics = Array.from({ length: TOPICS }, (_, i) => uniqueTopic(`txn-failover-${i}`));
  const input = uniqueTopic('txn-failover-in');
  for (const t of [...topics, input]) await cluster.createTopic(t, { partitions: PARTITIONS });
  const producer = new Producer({
    'bootstrap.servers': cluster.bootstrap,
    'transactional.id': `txn-failover-${runId}`,
    'max.block.ms': 120000,
    'request.timeout.ms': 10000,
    'retry.backoff.ms': 100,
    'linger.ms': 5,
  });
  const sendHalf = (half: 0 | 1) =>
    Promise.all(
      topics.flatMap((topic) =>
        Array.from({ length: PARTITIONS }, (_, partition) =>
          Array.from({ length: PER_PARTITION / 2 }, (_, i) => {
            const seq = half * (PER_PARTITION / 2) + i;
            return producer.send({ topic, partition, value: `${partition}:${seq}` });
          }),
        ).flat(),
      ),
    );
  let victim = -1;
  try {
    await producer.initTransactions();
    const tm = (producer as unknown as { core: { transactions: { txnCoordinator: { nodeId: number } | null } } }).core.transactions;
    victim = tm.txnCoordinator!.nodeId;
    producer.beginTransaction();
    await sendHalf(0);
    await cluster.stopBroker!(victim, { hard: true });
    // The second half goes out while leaders and the coordinator move.
    const second = sendHalf(1);
    await producer.sendOffsetsToTransaction([{ topic: input, partition: 0, offset: 1234 }], `g-${runId}`);
    await second;
    await producer.commitTransaction();
    const now = tm.txnCoordinator!.nodeId;
    assert.notEqual(now, victim, 'the commit went to the new coordinator');
  } finally {
    await producer.close({ timeoutMs: 30000 });
    await cluster.ensureAllRunning!();
  }
  for (const topic of topics) {
    for (const readUncommitted of [false, true]) {
      const got = await readTopic(cluster.bootstrap, topic, PARTITIONS * PER_PARTITION, { readUncommitted, timeoutMs: 60000 });
      assert.equal(got.length, PARTITIONS * PER_PARTITION, `${topic}: every record exactly once (${readUncommitted ? 'read_uncommitted' : 'read_committed'})`);
      for (let partition = 0; partition < PARTITIONS; partition++) {
        const values = got.filter((r) => r.partition === partition).map((r) => r.value!.toString());
        assert.deepEqual(values, Array.from({ length: PER_PARTITION }, (_, seq) => `${partition}:${seq}`), `${topic}-${partition} in send order`);
      }
    }
  }
});
