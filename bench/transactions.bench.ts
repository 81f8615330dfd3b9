/**
 * Transactions of 1, 100 and 10,000 records (100 B each, acks=all, 6 partitions, records
 * spread over the partitions): commits per second and records per second, for kafka-turbo's
 * Java-style API, its KafkaJS API and KafkaJS 2.2.4 itself, in the same run against the same
 * local broker. Each case runs in its own child process; the order of the clients is rotated
 * between rounds and round 0 is a warm-up (a fresh broker JVM is slow for its first minute).
 *
 *   npm run build && node out/bench/transactions.bench.js [--rounds 3] [--bootstrap host:port]
 *
 * A transaction is begin, N sends, commit; transactions run one after another. The Java-style
 * case makes N send() calls (its shape), the KafkaJS-API cases one send() of N messages. Before
 * a result counts, kcat reads the topic with isolation.level=read_committed and must find
 * exactly transactions × N records.
 */
import { join } from 'node:path';
import { Producer } from '../ts/producer/producer.js';
import { Kafka as TurboKafka, logLevel as turboLogLevel } from '../ts/kafkajs/index.js';
import { benchMain, runChild } from './lib/child.js';

const PARTITIONS = 6;
/** Transactions per case and size: each case takes a few seconds. */
const TRANSACTIONS: Record<number, number> = { 1: 300, 100: 100, 10000: 6 };
const CLIENTS = ['turbo-java', 'turbo-kafkajs', 'kafkajs'] as const;
type Client = (typeof CLIENTS)[number];

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

interface ChildResult {
  commitsPerSec: number;
  recordsPerSec: number;
}

interface TxnApi {
  /** Runs one transaction of `n` records starting at record number `base`. */
  run(n: number, base: number): Promise<void>;
  close(): Promise<void>;
}

async function open(client: Client, bootstrap: string, topic: string, id: string): Promise<TxnApi> {
  const value = Buffer.alloc(100, 0x61);
  if (client === 'turbo-java') {
    const p = new Producer({ 'bootstrap.servers': bootstrap, 'transactional.id': id });
    await p.connect([topic]);
    await p.initTransactions();
    return {
      async run(n, base) {
        p.beginTransaction();
        const sent: Promise<unknown>[] = [];
        for (let i = 0; i < n; i++) sent.push(p.send({ topic, partition: (base + i) % PARTITIONS, value }));
        await p.commitTransaction();
        await Promise.all(sent);
      },
      close: () => p.close(),
    };
  }
  const kafka =
    client === 'kafkajs'
      ? new (require('kafkajs') as typeof import('kafkajs')).Kafka({ clientId: 'bench', brokers: [bootstrap], logLevel: 0 })
      : new TurboKafka({ clientId: 'bench', brokers: [bootstrap], logLevel: turboLogLevel.NOTHING });
  const producer = kafka.producer({ transactionalId: id, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  return {
    async run(n, base) {
      const txn = await producer.transaction();
      const messages = Array.from({ length: n }, (_, i) => ({ value, partition: (base + i) % PARTITIONS }));
      await txn.send({ topic, messages });
      await txn.commit();
    },
    close: () => producer.disconnect(),
  };
}

async function child(): Promise<void> {
  const { BOOTSTRAP, TOPIC, CLIENT, SIZE, ID } = process.env as Record<string, string>;
  const size = Number(SIZE);
  const count = TRANSACTIONS[size]!;
  const api = await open(CLIENT as Client, BOOTSTRAP!, TOPIC!, ID!);
  // One transaction first, so that connections, InitProducerId and the JIT are out of the timed part.
  await api.run(size, 0);
  const t0 = process.hrtime.bigint();
  for (let t = 1; t <= count; t++) await api.run(size, t * size);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  await api.close();
  const out: ChildResult = { commitsPerSec: count / secs, recordsPerSec: (count * size) / secs };
  console.log(JSON.stringify(out));
}

function runCase(env: Record<string, string>): Promise<ChildResult> {
  return runChild<ChildResult>(__filename, env).catch((e: Error) => {
    throw new Error(`case ${env['CLIENT']} ${env['SIZE']}: ${e.message}`);
  });
}

async function parent(): Promise<void> {
  const rounds = Number(arg('rounds', '3'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const harness = require(join(__dirname, '..', '..', 'test', 'helpers', 'kafka', 'cluster.cjs'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { readTopic } = require(join(__dirname, '..', 'test', 'helpers', 'kcat.js')) as typeof import('../test/helpers/kcat.js');
  const given = arg('bootstrap', '');
  const cluster = given ? await harness.connectCluster(given) : await harness.startCluster({ brokers: 1 });
  const { Kafka, logLevel } = require('kafkajs') as typeof import('kafkajs');
  const admin = new Kafka({ clientId: 'bench-check', brokers: [cluster.bootstrap], logLevel: logLevel.NOTHING }).admin();
  const sizes = [1, 100, 10000];
  const rows = new Map<string, { cps: number[]; rps: number[] }>();
  let n = 0;
  const runTag = Date.now().toString(36);
  try {
    await admin.connect();
    for (let round = 0; round <= rounds; round++) {
      const order = CLIENTS.map((_, i) => CLIENTS[(i + round) % CLIENTS.length]!);
      for (const size of sizes) {
        for (const client of order) {
          const topic = `bench-txn-${runTag}-${n++}`;
          await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
          const r = await runCase({ BOOTSTRAP: cluster.bootstrap, TOPIC: topic, CLIENT: client, SIZE: String(size), ID: `bench-${runTag}-${n}` });
          const expected = (TRANSACTIONS[size]! + 1) * size;
          const got = await readTopic(cluster.bootstrap, topic, expected, { timeoutMs: 60000 });
          if (got.length !== expected) throw new Error(`${client} ${size}: read_committed found ${got.length} records, ${expected} were committed`);
          const label = round === 0 ? 'warm-up' : `round ${round}`;
          console.error(`${label} ${client} ${size}/txn: ${r.commitsPerSec.toFixed(1)} commits/s, ${Math.round(r.recordsPerSec)} records/s`);
          if (round === 0) continue;
          const key = `${client}|${size}`;
          const row = rows.get(key) ?? { cps: [], rps: [] };
          row.cps.push(r.commitsPerSec);
          row.rps.push(r.recordsPerSec);
          rows.set(key, row);
        }
      }
    }
  } finally {
    await admin.disconnect().catch(() => {});
    if (!given) await cluster.stop();
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`| records per transaction | client | commits/s (median of ${rounds}) | records/s | vs KafkaJS |`);
  console.log('|---|---|---|---|---|');
  for (const size of sizes) {
    const base = median(rows.get(`kafkajs|${size}`)!.cps);
    for (const client of CLIENTS) {
      const r = rows.get(`${client}|${size}`)!;
      const name = client === 'kafkajs' ? 'KafkaJS 2.2.4' : client === 'turbo-java' ? 'kafka-turbo, Java API' : 'kafka-turbo, KafkaJS API';
      console.log(
        `| ${size.toLocaleString('en-US')} | ${name} | ${median(r.cps).toFixed(1)} | ${Math.round(median(r.rps)).toLocaleString('en-US')} | ${(median(r.cps) / base).toFixed(2)}× |`,
      );
    }
  }
}

benchMain(parent, child);
