/**
 * The KafkaJS drop-in check for transactions (issue 14): KafkaJS's own transaction behaviours
 * (send + commit, abort, sendOffsets, the errors of a transaction used after its end or begun
 * twice) run once on KafkaJS 2.2.4 and once on kafka-turbo's facade, against the same broker,
 * and what an outside observer sees must be the same: kcat in both isolation levels, the
 * group's offsets from the broker's kafka-consumer-groups tool, and the errors' names and
 * messages.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import * as kafkajs from 'kafkajs';
import { getCluster, kafkaVersion, uniqueTopic, type KafkaCluster } from '../helpers/broker.js';
import { readTopic } from '../helpers/kcat.js';
import { Kafka, logLevel } from '../../ts/index.js';

const LIB = join(__dirname, '..', '..', '..', '.cache', 'kafka', kafkaVersion(), 'lib');
const runId = `${Date.now().toString(36)}-${process.env.KAFKA_TURBO_BACKEND ?? 'auto'}`;

let cluster: KafkaCluster;
before(async () => {
  cluster = await getCluster();
});
after(async () => {
  await cluster?.stop();
});

async function groupOffsets(groupId: string): Promise<Record<string, number>> {
  const out = await new Promise<string>((resolve, reject) =>
    execFile(
      'java',
      ['-cp', `${LIB}/*`, 'org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', '--bootstrap-server', cluster.bootstrap, '--describe', '--group', groupId],
      { timeout: 120000 },
      (err, stdout, stderr) => (err && !/does not exist/.test(stderr) ? reject(new Error(stderr || err.message)) : resolve(stdout)),
    ),
  );
  const offsets: Record<string, number> = {};
  for (const line of out.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols[0] === groupId && /^\d+$/.test(cols[2] ?? '') && /^\d+$/.test(cols[3] ?? '')) offsets[`p${cols[2]}`] = Number(cols[3]);
  }
  return offsets;
}

/** The subset of the KafkaJS API both clients share (kafkajs's own types differ in details). */
interface TxnLike {
  send(r: { topic: string; messages: { key?: string; value: string }[] }): Promise<unknown>;
  sendBatch(b: { topicMessages: { topic: string; messages: { value: string }[] }[] }): Promise<unknown>;
  sendOffsets(o: { consumerGroupId: string; topics: { topic: string; partitions: { partition: number; offset: string }[] }[] }): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
  isActive(): boolean;
}
interface ProducerLike {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  transaction(): Promise<TxnLike>;
}
type KafkaLike = { producer(cfg: Record<string, unknown>): ProducerLike };

const errorOf = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
};

/** One client through KafkaJS's transaction behaviours; returns what an observer sees. */
async function scenario(client: 'kafkajs' | 'turbo'): Promise<Record<string, unknown>> {
  const tag = `${client}-${runId}`;
  const topic = uniqueTopic(`kjs-txn-${client}`);
  const input = uniqueTopic(`kjs-txn-in-${client}`);
  await cluster.createTopic(topic, { partitions: 2 });
  await cluster.createTopic(input, { partitions: 2 });
  const config = { clientId: `side-by-side-${client}`, brokers: [cluster.bootstrap], logLevel: 0 };
  const kafka: KafkaLike =
    client === 'kafkajs'
      ? (new kafkajs.Kafka(config) as unknown as KafkaLike)
      : (new Kafka({ ...config, logLevel: logLevel.NOTHING }) as unknown as KafkaLike);
  const producer = kafka.producer({ transactionalId: `kjs-txn-${tag}`, idempotent: true, maxInFlightRequests: 1 });
  const plain = kafka.producer({});
  const seen: Record<string, unknown> = {};
  await producer.connect();
  await plain.connect();
  try {
    seen.noTransactionalId = await errorOf(plain.transaction());

    // 1. send + sendBatch + sendOffsets, commit.
    const t1 = await producer.transaction();
    seen.activeAtStart = t1.isActive();
    seen.secondTransaction = await errorOf(producer.transaction());
    await t1.send({ topic, messages: [{ key: 'k1', value: 'committed-1' }, { key: 'k2', value: 'committed-2' }] });
    await t1.sendBatch({ topicMessages: [{ topic, messages: [{ value: 'committed-3' }] }] });
    await t1.sendOffsets({ consumerGroupId: `g-${tag}`, topics: [{ topic: input, partitions: [{ partition: 0, offset: '5' }, { partition: 1, offset: '7' }] }] });
    await t1.commit();
    seen.activeAfterCommit = t1.isActive();
    seen.sendAfterCommit = await errorOf(t1.send({ topic, messages: [{ value: 'never' }] }));
    seen.commitAfterCommit = await errorOf(t1.commit());
    seen.offsetsAfterCommit = await groupOffsets(`g-${tag}`);

    // 2. send + sendOffsets, abort.
    const t2 = await producer.transaction();
    await t2.send({ topic, messages: [{ value: 'aborted-1' }, { value: 'aborted-2' }] });
    await t2.sendOffsets({ consumerGroupId: `g-${tag}`, topics: [{ topic: input, partitions: [{ partition: 0, offset: '50' }] }] });
    await t2.abort();
    seen.activeAfterAbort = t2.isActive();
    seen.abortAfterAbort = await errorOf(t2.abort());
    seen.offsetsAfterAbort = await groupOffsets(`g-${tag}`);

    // 3. One more commit after the abort: the producer goes on.
    const t3 = await producer.transaction();
    await t3.send({ topic, messages: [{ value: 'committed-4' }] });
    await t3.commit();
  } finally {
    await producer.disconnect();
    await plain.disconnect();
  }
  const committed = await readTopic(cluster.bootstrap, topic, 4);
  seen.readCommitted = committed.map((r) => r.value!.toString()).sort();
  const all = await readTopic(cluster.bootstrap, topic, 6, { readUncommitted: true });
  seen.readUncommitted = all.map((r) => r.value!.toString()).sort();
  return seen;
}

it('KafkaJS 2.2.4 and kafka-turbo give the same observable results for send + commit, abort and sendOffsets', async () => {
  const theirs = await scenario('kafkajs');
  const ours = await scenario('turbo');
  assert.deepEqual(ours, theirs);
  // And the results are the right ones, not merely the same.
  assert.deepEqual(ours.readCommitted, ['committed-1', 'committed-2', 'committed-3', 'committed-4']);
  assert.deepEqual(ours.readUncommitted, ['aborted-1', 'aborted-2', 'committed-1', 'committed-2', 'committed-3', 'committed-4']);
  assert.deepEqual(ours.offsetsAfterCommit, { p0: 5, p1: 7 });
  assert.deepEqual(ours.offsetsAfterAbort, { p0: 5, p1: 7 });
  assert.equal(ours.sendAfterCommit, 'KafkaJSNonRetriableError: Cannot continue to use transaction once ended');
});
