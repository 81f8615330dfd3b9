/**
 * Transactions against a real 1-broker Kafka 4.1 cluster (issue 14), every outcome read by an
 * independent reader: kcat with isolation.level=read_committed and read_uncommitted, the
 * broker's own DumpLogSegments for the COMMIT / ABORT markers, and its ConsumerGroupCommand
 * (kafka-consumer-groups) for the offsets a transaction commits. Transactions V2 (KIP-890) is
 * what a new 4.1 cluster runs; the V1 protocol is tested by lowering the transaction.version
 * feature with the broker's FeatureCommand (kafka-features), and raising it again after.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { getCluster, kafkaVersion, uniqueTopic, type KafkaCluster } from '../helpers/broker.js';
import { readTopic } from '../helpers/kcat.js';
import { partitionDirs } from '../helpers/log-segments.js';
import { Producer } from '../../ts/index.js';
import { KafkaJSProtocolError } from '../../ts/errors.js';

const REPO_ROOT = join(__dirname, '..', '..', '..');
const LIB = join(REPO_ROOT, '.cache', 'kafka', kafkaVersion(), 'lib');
const runId = `${Date.now().toString(36)}-${process.env.KAFKA_TURBO_BACKEND ?? 'auto'}`;

let cluster: KafkaCluster;

before(async () => {
  cluster = await getCluster();
});
after(async () => {
  await cluster?.stop();
});

function java(mainClass: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('java', ['-cp', `${LIB}/*`, mainClass, ...args], { maxBuffer: 64 << 20, timeout: 120000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${mainClass} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** The group's committed offsets as the broker's kafka-consumer-groups tool shows them. */
async function groupOffsets(groupId: string): Promise<Record<string, number>> {
  const out = await java('org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', [
    '--bootstrap-server', cluster.bootstrap, '--describe', '--group', groupId,
  ]).catch((e: Error) => (/does not exist/.test(e.message) ? '' : Promise.reject(e)));
  const offsets: Record<string, number> = {};
  for (const line of out.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols[0] === groupId && cols.length >= 4 && /^\d+$/.test(cols[2]!) && /^\d+$/.test(cols[3]!)) {
      offsets[`${cols[1]}:${cols[2]}`] = Number(cols[3]);
    }
  }
  return offsets;
}

/** The transaction markers (COMMIT / ABORT) the broker wrote in a partition, in log order,
 * read from its log files with DumpLogSegments (kcat does not show control records). */
async function markers(topic: string, partition: number): Promise<string[]> {
  const want = `${topic}-${partition}`;
  const dirs = partitionDirs(topic, partition);
  assert.equal(dirs.length, 1, `one log directory for ${want}`);
  const segments = readdirSync(dirs[0]!).filter((f) => f.endsWith('.log')).map((f) => join(dirs[0]!, f));
  const out = await java('kafka.tools.DumpLogSegments', ['--deep-iteration', '--files', segments.join(',')]);
  return [...out.matchAll(/endTxnMarker: (COMMIT|ABORT)/g)].map((m) => m[1]!);
}

function producer(transactionalId: string, extra: Record<string, unknown> = {}): Producer {
  return new Producer({
    'bootstrap.servers': cluster.bootstrap,
    'transactional.id': transactionalId,
    'linger.ms': 5,
    'max.block.ms': 30000,
    ...extra,
  } as ConstructorParameters<typeof Producer>[0]);
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  assert.fail('expected a rejection');
}

const valuesOf = (records: { value: Buffer | null }[]) => records.map((r) => r.value!.toString()).sort();

/** Three transactions on a 3-partition topic: commit (with offsets), abort (with offsets), commit. */
async function commitAbortCommit(tag: string, expectV2: boolean): Promise<void> {
  const topic = uniqueTopic(`txn-${tag}`);
  const group = `g-${tag}-${runId}`;
  // The "consumed" side of consume-transform-produce: offsets are committed for this topic.
  const input = uniqueTopic(`txn-in-${tag}`);
  await cluster.createTopic(topic, { partitions: 3 });
  await cluster.createTopic(input, { partitions: 1 });
  const p = producer(`txn-${tag}-${runId}`);
  try {
    await p.initTransactions();
    const tm = (p as unknown as { core: { transactions: { v2: boolean } } }).core.transactions;
    assert.equal(tm.v2, expectV2, `the broker's transaction.version feature ${expectV2 ? 'turns V2 on' : 'keeps V1'}`);

    p.beginTransaction();
    await Promise.all([0, 1, 2, 3, 4, 5].map((i) => p.send({ topic, partition: i % 3, value: `a-${i}` })));
    await p.sendOffsetsToTransaction([{ topic: input, partition: 0, offset: 10 }], group);
    await p.commitTransaction();
    assert.deepEqual(await groupOffsets(group), { [`${input}:0`]: 10 }, 'offsets committed with the transaction');

    p.beginTransaction();
    await Promise.all([0, 1, 2, 3, 4, 5].map((i) => p.send({ topic, partition: i % 3, value: `b-${i}` })));
    await p.sendOffsetsToTransaction([{ topic: input, partition: 0, offset: 20 }], { groupId: group });
    await p.abortTransaction();
    assert.deepEqual(await groupOffsets(group), { [`${input}:0`]: 10 }, 'offsets of the aborted transaction are not there');

    p.beginTransaction();
    await Promise.all([0, 1, 2].map((i) => p.send({ topic, partition: i, value: `c-${i}` })));
    await p.commitTransaction();
  } finally {
    await p.close();
  }
  const committed = await readTopic(cluster.bootstrap, topic, 9);
  assert.deepEqual(valuesOf(committed), [...[0, 1, 2, 3, 4, 5].map((i) => `a-${i}`), 'c-0', 'c-1', 'c-2'].sort());
  const all = await readTopic(cluster.bootstrap, topic, 15, { readUncommitted: true });
  assert.equal(all.length, 15, 'read_uncommitted sees the aborted records too');
  assert.deepEqual(valuesOf(all).filter((v) => v.startsWith('b-')), [0, 1, 2, 3, 4, 5].map((i) => `b-${i}`).sort());
  for (let partition = 0; partition < 3; partition++) {
    assert.deepEqual(await markers(topic, partition), ['COMMIT', 'ABORT', 'COMMIT'], `markers of ${topic}-${partition}`);
  }
}

describe('transactions on a real broker', () => {
  it('the broker finalizes transaction.version 2 (KIP-890) and the producer uses V2: commit visible to read_committed, abort never; offsets only after commit', async () => {
    await commitAbortCommit('v2', true);
  });

  it('a second producer with the same transactional.id fences the first (PRODUCER_FENCED class, fatal for every later call)', async () => {
    const topic = uniqueTopic('txn-fence');
    await cluster.createTopic(topic, { partitions: 1 });
    const id = `txn-fence-${runId}`;
    const first = producer(id);
    const second = producer(id);
    try {
      await first.initTransactions();
      first.beginTransaction();
      await first.send({ topic, partition: 0, value: 'zombie-1' });
      await second.initTransactions(); // a new epoch: the first one's transaction is aborted
      const fenced = await rejection(
        (async () => {
          await first.send({ topic, partition: 0, value: 'zombie-2' });
          await first.commitTransaction();
        })(),
      );
      assert.ok(fenced instanceof KafkaJSProtocolError, `${fenced.name}: ${fenced.message}`);
      assert.ok(['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH'].includes(fenced.type), fenced.type);
      assert.equal(await rejection(first.commitTransaction()), fenced);
      assert.equal(await rejection(first.abortTransaction()), fenced);
      assert.equal(await rejection(first.send({ topic, partition: 0, value: 'zombie-3' })), fenced);
      second.beginTransaction();
      await second.send({ topic, partition: 0, value: 'new' });
      await second.commitTransaction();
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
    assert.deepEqual(valuesOf(await readTopic(cluster.bootstrap, topic, 1)), ['new']);
    const all = valuesOf(await readTopic(cluster.bootstrap, topic, 2, { readUncommitted: true, timeoutMs: 5000, partial: true }));
    assert.ok(all.includes('zombie-1') && !all.includes('zombie-3'), all.join(','));
    assert.deepEqual(await markers(topic, 0), ['ABORT', 'COMMIT']);
  });

  it('a transaction left open by a producer killed with SIGKILL is aborted by the next initTransactions', async () => {
    const topic = uniqueTopic('txn-killed');
    await cluster.createTopic(topic, { partitions: 2 });
    const id = `txn-killed-${runId}`;
    // The child sends 10 records in a transaction, says so, and waits to be killed.
    const script = `
      const { Producer } = require(${JSON.stringify(join(REPO_ROOT, 'out', 'ts', 'index.js'))});
      (async () => {
        const p = new Producer({ 'bootstrap.servers': ${JSON.stringify(cluster.bootstrap)}, 'transactional.id': ${JSON.stringify(id)}, 'transaction.timeout.ms': 600000 });
        await p.initTransactions();
        p.beginTransaction();
        await Promise.all(Array.from({ length: 10 }, (_, i) => p.send({ topic: ${JSON.stringify(topic)}, partition: i % 2, value: 'orphan-' + i })));
        process.stdout.write('sent\\n');
        setInterval(() => undefined, 1000);
      })().catch((e) => { console.error(e); process.exit(2); });`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => d.toString().includes('sent') && resolve());
      child.on('exit', (code) => reject(new Error(`the child producer exited with ${code} before sending`)));
    });
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    // The transaction is open (its timeout is 10 minutes): read_committed readers are held at it.
    assert.equal((await readTopic(cluster.bootstrap, topic, 10, { readUncommitted: true })).length, 10);

    const next = producer(id);
    try {
      await next.initTransactions(); // aborts the orphaned transaction (CONCURRENT_TRANSACTIONS is retried meanwhile)
      next.beginTransaction();
      await next.send({ topic, partition: 0, value: 'after' });
      await next.commitTransaction();
    } finally {
      await next.close();
    }
    assert.deepEqual(valuesOf(await readTopic(cluster.bootstrap, topic, 1)), ['after']);
    assert.deepEqual(await markers(topic, 0), ['ABORT', 'COMMIT']);
    assert.deepEqual(await markers(topic, 1), ['ABORT']);
  });

  it('V1 (transaction.version lowered to 1 with kafka-features): AddPartitionsToTxn / AddOffsetsToTxn path, same outcomes', async () => {
    const features = ['--bootstrap-server', cluster.bootstrap];
    await java('org.apache.kafka.tools.FeatureCommand', [...features, 'downgrade', '--feature', 'transaction.version=1']);
    try {
      await commitAbortCommit('v1', false);
    } finally {
      await java('org.apache.kafka.tools.FeatureCommand', [...features, 'upgrade', '--feature', 'transaction.version=2']);
    }
  });
});
