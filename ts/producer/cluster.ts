/**
 * What the producer knows about the cluster: brokers (one connection each, with the API
 * versions they support) and topic metadata (partition leaders). Metadata is fetched at
 * bootstrap, for a topic the first time it is used, every metadata.max.age.ms, and whenever
 * the sender sees a sign that it is stale (NOT_LEADER_OR_FOLLOWER and its kin, unknown
 * leader, connection loss). Concurrent refresh requests share one fetch.
 */
import { EventEmitter } from 'node:events';
import { BrokerConnection } from '../net/connection.js';
import { createMechanism, SaslSession, type SaslSettings } from '../net/sasl/index.js';
import { ApiKey } from '../protocol/api-keys.js';
import { ApiVersions } from '../protocol/api-versions.js';
import { Metadata, type MetadataResponse } from '../protocol/metadata.js';
import { pickVersion } from '../protocol/versions.js';
import { errorForCode, ErrorCode } from '../protocol/error-codes.js';
import { KafkaJSConnectionError, KafkaJSError, KafkaJSProtocolError } from '../errors.js';
import type { ResolvedConfig } from './options.js';

/** What we tell brokers in ApiVersions v3 (shown in broker metrics per client). */
const CLIENT_SOFTWARE = { clientSoftwareName: 'kafka-turbo', clientSoftwareVersion: '0.1.0' };

export interface VersionRange {
  minVersion: number;
  maxVersion: number;
}

/** One broker: its connection and what it speaks. */
export class Broker {
  readonly conn: BrokerConnection;
  private versions: Map<number, VersionRange> | null = null;
  private readying: Promise<void> | null = null;
  private readonly saslSettings: SaslSettings | null;
  /** This connection's SASL session (re-authentication, KIP-368), when SASL is on. */
  private sasl: SaslSession | null = null;

  constructor(
    readonly nodeId: number,
    readonly host: string,
    readonly port: number,
    config: ResolvedConfig,
  ) {
    this.saslSettings = config.security.sasl;
    this.conn = new BrokerConnection({
      host,
      port,
      clientId: config.clientId,
      nodeId,
      maxInFlight: config.maxInFlight,
      requestTimeoutMs: config.requestTimeoutMs,
      connectTimeoutMs: config.connectTimeoutMs,
      reconnectBackoffMs: config.reconnectBackoffMs,
      reconnectBackoffMaxMs: config.reconnectBackoffMaxMs,
      tls: config.security.tls,
    });
  }

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  /** True when the connection is up, API versions are known and SASL (if any) is not re-authenticating. */
  isReady(): boolean {
    return this.versions !== null && this.conn.isConnected() && this.sasl?.busy() == null;
  }

  /** Connect, learn the broker's API versions (ApiVersions v3, then v0 when refused) and
   * authenticate (SASL); or wait for a re-authentication in progress. */
  ensureReady(): Promise<void> {
    if (this.isReady()) return Promise.resolve();
    const reauth = this.versions !== null && this.conn.isConnected() ? this.sasl?.busy() : null;
    if (reauth) return reauth;
    this.readying ??= this.handshake().finally(() => {
      this.readying = null;
    });
    return this.readying;
  }

  private async handshake(): Promise<void> {
    this.versions = null;
    this.sasl?.stop();
    this.sasl = null;
    await this.conn.connect();
    let res = await this.conn.request(ApiKey.ApiVersions, 3, true, ApiVersions.encode(3, CLIENT_SOFTWARE), ApiVersions.decode, {
      responseHeaderV0: true,
    });
    if (res.errorCode === ErrorCode.UNSUPPORTED_VERSION) {
      res = await this.conn.request(ApiKey.ApiVersions, 0, false, ApiVersions.encode(0, CLIENT_SOFTWARE), ApiVersions.decode, {
        responseHeaderV0: true,
      });
    }
    if (res.errorCode !== 0) throw new KafkaJSProtocolError(errorForCode(res.errorCode));
    const versions = new Map<number, VersionRange>();
    for (const k of res.apiKeys) versions.set(k.apiKey, { minVersion: k.minVersion, maxVersion: k.maxVersion });
    if (this.saslSettings !== null) {
      // Before any other request; a refusal closes the connection (Java does the same).
      try {
        this.sasl = await SaslSession.start(this.conn, createMechanism(this.saslSettings), (d) => pickVersion(d, versions.get(d.apiKey)));
      } catch (err) {
        await this.conn.close();
        throw err;
      }
    }
    this.versions = versions;
  }

  /** The version of an API to use with this broker: the highest both sides support
   * (pickVersion throws KafkaJSServerDoesNotSupportApiKey when there is none). */
  version(desc: { apiKey: number; minVersion: number; maxVersion: number }): number {
    return pickVersion(desc, this.versions?.get(desc.apiKey));
  }

  close(): Promise<void> {
    this.sasl?.stop();
    return this.conn.close();
  }
}

export interface PartitionState {
  partition: number;
  /** -1 while no leader is known. */
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  offlineReplicas: number[];
  errorCode: number;
}

export interface TopicState {
  name: string;
  /** 0 when the topic is unknown or in error. */
  errorCode: number;
  partitions: PartitionState[];
  /** Partitions with a known leader, for partitioners that avoid unavailable ones. */
  availablePartitions: number[];
}

export class Cluster extends EventEmitter {
  private readonly bootstrap: Broker[];
  readonly brokers = new Map<number, Broker>();
  readonly topics = new Map<string, TopicState>();
  /** Topics the producer has used: each refresh asks for all of them. */
  private readonly wanted = new Set<string>();
  private refreshing: Promise<void> | null = null;
  private refreshAgain = false;
  private closed = false;
  private ageTimer: NodeJS.Timeout | null = null;
  /** The last error a refresh ran into; reported when a send gives up waiting for metadata. */
  lastError: Error | null = null;

  constructor(private readonly config: ResolvedConfig) {
    super();
    this.bootstrap = config.bootstrapServers.map((b, i) => new Broker(-1 - i, b.host, b.port, config));
    for (const b of this.bootstrap) this.forward(b);
  }

  /** Fetch metadata for `topics` (added to those already wanted). Rejects when no broker could answer. */
  refresh(topics: readonly string[] = []): Promise<void> {
    for (const t of topics) this.wanted.add(t);
    if (this.refreshing) {
      if (topics.length > 0) this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = this.fetch()
      .finally(() => {
        this.refreshing = null;
      })
      .then(() => {
        if (this.refreshAgain) {
          this.refreshAgain = false;
          return this.refresh();
        }
        return undefined;
      });
    return this.refreshing;
  }

  /** Ask for a refresh soon, without waiting for it (errors are kept in lastError). */
  requestUpdate(): void {
    this.refresh().catch(() => undefined);
  }

  private candidates(): Broker[] {
    // Brokers already connected first, then the rest, then the bootstrap list.
    const all = [...this.brokers.values(), ...this.bootstrap];
    return [...all.filter((b) => b.isReady()), ...all.filter((b) => !b.isReady())];
  }

  private async fetch(): Promise<void> {
    if (this.closed) throw new KafkaJSError('The producer is closed', { retriable: false });
    const errors: Error[] = [];
    for (const broker of this.candidates()) {
      // close() during the loop: trying the next broker would open a connection nobody closes.
      if (this.closed) break;
      try {
        await broker.ensureReady();
        const version = broker.version(Metadata);
        const res = await broker.conn.request(
          ApiKey.Metadata,
          version,
          version >= Metadata.flexibleFrom,
          Metadata.encode(version, {
            topics: [...this.wanted],
            allowAutoTopicCreation: this.config.allowAutoTopicCreation,
          }),
          Metadata.decode,
        );
        this.apply(res);
        this.lastError = null;
        this.scheduleAgeRefresh();
        return;
      } catch (err) {
        errors.push(err as Error);
      }
    }
    const last = errors[errors.length - 1];
    const err =
      last instanceof KafkaJSError
        ? last
        : new KafkaJSConnectionError(`Could not fetch metadata from any broker: ${last?.message ?? 'no brokers'}`, {
            cause: last,
          });
    this.lastError = err;
    throw err;
  }

  private apply(res: MetadataResponse): void {
    const seen = new Set<number>();
    for (const b of res.brokers) {
      seen.add(b.nodeId);
      const old = this.brokers.get(b.nodeId);
      if (old && (old.host !== b.host || old.port !== b.port)) {
        old.close().catch(() => undefined);
        this.brokers.delete(b.nodeId);
      }
      if (!this.brokers.has(b.nodeId)) {
        const broker = new Broker(b.nodeId, b.host, b.port, this.config);
        this.forward(broker);
        this.brokers.set(b.nodeId, broker);
      }
    }
    for (const t of res.topics) {
      if (t.name === null || t.name === undefined) continue;
      const partitions: PartitionState[] = [];
      for (const p of t.partitions) {
        partitions[p.partitionIndex] = {
          partition: p.partitionIndex,
          leader: p.errorCode === ErrorCode.LEADER_NOT_AVAILABLE ? -1 : p.leaderId,
          leaderEpoch: p.leaderEpoch ?? -1,
          replicas: p.replicaNodes,
          isr: p.isrNodes,
          offlineReplicas: p.offlineReplicas ?? [],
          errorCode: p.errorCode,
        };
      }
      const availablePartitions = partitions.filter((p) => p && p.leader >= 0).map((p) => p.partition);
      this.topics.set(t.name, { name: t.name, errorCode: t.errorCode, partitions, availablePartitions });
    }
    this.emit('metadata');
  }

  /** Broker connection events (KafkaJS instrumentation) re-emitted by the cluster. */
  private forward(broker: Broker): void {
    for (const ev of ['request', 'request_timeout', 'request_queue_size']) {
      broker.conn.on(ev, (payload: unknown) => this.emit(ev, payload));
    }
  }

  private scheduleAgeRefresh(): void {
    if (this.ageTimer) clearTimeout(this.ageTimer);
    if (this.closed) return;
    this.ageTimer = setTimeout(() => this.requestUpdate(), this.config.metadataMaxAgeMs);
    this.ageTimer.unref();
  }

  broker(nodeId: number): Broker | undefined {
    return this.brokers.get(nodeId);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.ageTimer) clearTimeout(this.ageTimer);
    await Promise.all([...this.brokers.values(), ...this.bootstrap].map((b) => b.close().catch(() => undefined)));
  }
}
