/**
 * A real Apache Kafka cluster (KRaft, 4.x, from the jars Maven serves) for the integration tests.
 *
 * Tests call getCluster(): under `npm test` (scripts/test.mjs) that is the 1- or 3-broker cluster
 * the script started for the whole run (KAFKA_TURBO_TEST_BOOTSTRAP / _3 in the environment);
 * a test file run on its own (`node --test out/test/integration/x.test.js`) starts its own,
 * once per process, and it goes away when the process exits. Either way the cluster is shared:
 * stop() on what getCluster() returns does nothing; use fresh topic names (uniqueTopic()).
 *
 * The work is done by test/helpers/kafka/cluster.cjs, plain JS shared with scripts/test.mjs;
 * this file only types it. Compiled, this file lives in out/test/helpers/, the .cjs stays in
 * the source tree, so it is found from the repository root.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface BrokerAddress {
  nodeId: number;
  host: string;
  port: number;
}

export interface CreateTopicOptions {
  /** Default 1. */
  partitions?: number;
  /** Default: the cluster's default.replication.factor (1, or 3 on the 3-broker cluster). */
  replicationFactor?: number;
  /** Topic configs, e.g. { 'message.timestamp.type': 'LogAppendTime' }. */
  configs?: Record<string, string>;
  /** How long to wait for the topic's leaders on every broker; default 60 s. */
  timeoutMs?: number;
}

export interface StopBrokerOptions {
  /** SIGKILL at once (a crash) instead of SIGTERM (a controlled shutdown). */
  hard?: boolean;
}

export interface KafkaCluster {
  /** "127.0.0.1:p1,127.0.0.1:p2,..." */
  bootstrap: string;
  brokers: BrokerAddress[];
  /**
   * Creates the topic and resolves once every live broker knows a leader and a full ISR for
   * each partition. Rejects (err.code 'TOPIC_ALREADY_EXISTS', ...) when the broker refuses.
   */
  createTopic(name: string, opts?: CreateTopicOptions): Promise<void>;
  /** A no-op for the shared clusters from getCluster(); stops what startCluster() started. */
  stop(): Promise<void>;
  /** Stops one broker process (3-broker clusters; 1-broker too, for outage tests). */
  stopBroker?(nodeId: number, opts?: StopBrokerOptions): Promise<void>;
  /**
   * Restarts a stopped broker on the same ports and log dirs; resolves once it serves metadata
   * and is back in the ISR of every partition it replicates.
   */
  startBroker?(nodeId: number): Promise<void>;
  /**
   * Freezes a broker with SIGSTOP: its sockets stay open and nothing answers (a long GC pause,
   * a frozen VM). Past broker.session.timeout.ms (6 s on the harness's clusters) the controller
   * fences it and its leaderships move. Resolves at once.
   */
  pauseBroker?(nodeId: number): Promise<void>;
  /** SIGCONT; resolves once the broker serves metadata and is back in sync (see startBroker). */
  resumeBroker?(nodeId: number): Promise<void>;
  /**
   * Restarts every stopped broker and resumes every paused one, and waits until they are back
   * in sync: what a test calls when it is done with faults (in t.after / finally). Returns the
   * ids it brought back.
   */
  ensureAllRunning?(): Promise<number[]>;
}

export interface ClusterOptions {
  brokers?: 1 | 3;
}

/** The secure single-broker cluster: PLAINTEXT, SSL (client certificate required),
 * SASL_PLAINTEXT and SASL_SSL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER with the
 * broker's unsecured token validator: test only). */
export interface SecureKafkaCluster extends KafkaCluster {
  /** 'host:port' of each listener; `bootstrap` is the PLAINTEXT one. */
  listeners: { PLAINTEXT: string; SSL: string; SASL_PLAINTEXT: string; SASL_SSL: string };
  /** user name → password, for PLAIN and both SCRAM mechanisms. */
  users: Record<string, string>;
  /** Sessions of this listener + mechanism last `ms` (connections.max.reauth.ms): clients must re-authenticate. */
  shortSession: { listener: 'SASL_PLAINTEXT'; mechanism: 'SCRAM-SHA-512'; ms: number };
  /** Made with openssl into .cache/tls by the harness. The broker's certificate is for IP 127.0.0.1 only. */
  certs: {
    dir: string;
    ca: string;
    /** A CA that signed nothing the broker uses. */
    otherCa: string;
    clientCert: string;
    /** Encrypted PKCS#8 (passwords.clientKey). */
    clientKey: string;
    /** clientKey + clientCert in one PEM file. */
    clientKeystore: string;
    /** PKCS12 (passwords.clientP12). */
    clientP12: string;
    /** A server certificate (for 127.0.0.1, signed by `ca`) that expired before it was made, and its key. */
    expiredCert: string;
    expiredKey: string;
    passwords: { brokerKey: string; clientKey: string; clientP12: string };
  };
}

/**
 * The 3-broker cluster as the replication test over SASL_SSL sees it: besides PLAINTEXT (its
 * `bootstrap`, what every other test uses), each broker has a SASL_SSL listener with
 * SCRAM-SHA-512 and PLAIN (PLAIN for kcat, which cannot do SCRAM with Kafka 4), the secure
 * cluster's users and its certificate (IP 127.0.0.1). Brokers replicate over PLAINTEXT.
 */
export interface ReplicatedKafkaCluster extends KafkaCluster {
  /** 'host:port,...' of the three brokers per listener; SASL_SSL is undefined only for an
   * outside cluster given without KAFKA_TURBO_TEST_SASL_SSL_3. */
  listeners: { PLAINTEXT: string; SASL_SSL: string | undefined };
  /** user name → password, for PLAIN and SCRAM-SHA-512. */
  users: Record<string, string>;
  certs: SecureKafkaCluster['certs'];
}

interface ClusterCore {
  startCluster(opts: { brokers?: number; log?: (line: string) => void }): Promise<KafkaCluster>;
  getCluster(opts: { brokers?: number; secure?: boolean }): Promise<KafkaCluster>;
  connectCluster(bootstrap: string, opts?: { controlUrl?: string }): Promise<KafkaCluster>;
  ensureKafkaJars(opts?: { log?: (line: string) => void }): string;
  kafkaVersion(): string;
  parseBootstrap(bootstrap: string): { host: string; port: number }[];
  fetchMetadata(
    host: string,
    port: number,
    topics: string[] | null,
    timeoutMs?: number,
  ): Promise<{
    brokers: BrokerAddress[];
    controllerId: number;
    topics: { name: string; error: number; partitions: (PartitionLayout & { error: number })[] }[];
  }>;
}

export interface PartitionLayout {
  partition: number;
  /** Node id of the leader, -1 if none. */
  leader: number;
  replicas: number[];
  isr: number[];
}

function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && fs.existsSync(path.join(dir, 'test', 'helpers', 'kafka', 'cluster.cjs'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`kafka-turbo repository root not found above ${__dirname}`);
    dir = up;
  }
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const core: ClusterCore = require(path.join(repoRoot(), 'test', 'helpers', 'kafka', 'cluster.cjs'));

/** Starts a cluster owned by the caller, who must stop() it. Prefer getCluster() in tests. */
export async function startCluster(opts: ClusterOptions = {}): Promise<KafkaCluster> {
  return core.startCluster({ brokers: opts.brokers ?? 1 });
}

/** The shared cluster of this test run (see the file comment). */
export async function getCluster(opts: ClusterOptions = {}): Promise<KafkaCluster> {
  return core.getCluster({ brokers: opts.brokers ?? 1 });
}

/** The shared 3-broker cluster with what its SASL_SSL listeners need (see ReplicatedKafkaCluster). */
export async function getReplicatedCluster(): Promise<ReplicatedKafkaCluster> {
  return (await core.getCluster({ brokers: 3 })) as ReplicatedKafkaCluster;
}

/** The shared secure cluster (started by scripts/test.mjs when security tests are selected). */
export async function getSecureCluster(): Promise<SecureKafkaCluster> {
  return (await core.getCluster({ secure: true })) as SecureKafkaCluster;
}

/** A cluster somebody else runs, e.g. a local Kafka on 127.0.0.1:9092. stop() is a no-op. */
export async function connectCluster(bootstrap: string): Promise<KafkaCluster> {
  return core.connectCluster(bootstrap);
}

/** The Apache Kafka version the harness runs. */
export function kafkaVersion(): string {
  return core.kafkaVersion();
}

/**
 * A topic's partitions as a broker of the cluster sees them right now (Metadata request to the
 * first bootstrap address that answers), ordered by partition.
 */
export async function topicLayout(bootstrap: string, topic: string): Promise<PartitionLayout[]> {
  let last: unknown;
  for (const a of core.parseBootstrap(bootstrap)) {
    try {
      const md = await core.fetchMetadata(a.host, a.port, [topic], 5000);
      const t = md.topics.find((x) => x.name === topic);
      if (!t || t.error !== 0) throw new Error(`topicLayout ${topic}: error ${t ? t.error : 'missing'}`);
      return t.partitions
        .map((p) => ({ partition: p.partition, leader: p.leader, replicas: p.replicas, isr: p.isr }))
        .sort((x, y) => x.partition - y.partition);
    } catch (e) {
      last = e;
    }
  }
  throw last;
}

let topicSeq = 0;
/** A topic name no other test (or earlier run against the same cluster) uses. */
export function uniqueTopic(prefix = 'test'): string {
  const safe = prefix.replace(/[^a-zA-Z0-9._-]/g, '-').slice(0, 100);
  return `${safe}-${process.pid}-${Date.now().toString(36)}-${++topicSeq}`;
}

/**
 * The node ids of the brokers that `asked` lists in a Metadata response: the live, unfenced
 * brokers as it sees them (a fenced broker drops out of every other broker's list).
 */
export async function brokersSeenBy(asked: BrokerAddress, timeoutMs = 3000): Promise<number[]> {
  const md = await core.fetchMetadata(asked.host, asked.port, [], timeoutMs);
  return md.brokers.map((b) => b.nodeId).sort((a, b) => a - b);
}
