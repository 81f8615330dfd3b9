/**
 * What the producer knows about the cluster: brokers (one connection each, with the API
 * versions they support) and topic metadata (partition leaders). Metadata is fetched at
 * bootstrap, for a topic the first time it is used, every metadata.max.age.ms, and whenever
 * the sender sees a sign that it is stale (isStaleMetadataError codes, unknown leader,
 * connection loss). Concurrent refresh requests share one fetch.
 *
 * Which broker is asked: the least-loaded one, as Java's NetworkClient.leastLoadedNode picks
 * it: a connected broker with nothing outstanding at once; else the connected one with the
 * fewest requests outstanding (in flight + queued) that can still take one; else one being
 * connected; else one that may be connected now (not closed, not in reconnect backoff). So a
 * metadata refresh does not queue behind a held Produce, and a black-holed connection (whose
 * requests time out and drop it, see ts/net/connection.ts) is left for a fresh one. The
 * others follow as fallbacks within the same fetch, and the bootstrap servers come last.
 *
 * Brokers that a metadata response no longer lists are removed from `brokers` at once (the
 * sender stops picking them) and their connection is closed once what is in flight on it
 * has completed. The Java client does not tear down such a connection either: its in-flight
 * requests complete, and the idle connection is closed later (connections.max.idle.ms); we
 * close it as soon as it is idle. The bootstrap connections are retired the same way after
 * the first metadata answer, and fresh (unconnected) bootstrap entries stay as fallbacks.
 *
 * close() is final and leaves nothing behind: every await in a metadata fetch and in a
 * broker's handshake checks it, and closed connections refuse to connect, so a fetch under
 * way cannot open a socket after close() returned.
 */
import { EventEmitter } from 'node:events';
import { BrokerConnection } from '../net/connection.js';
import { createMechanism, SaslSession, type SaslSettings } from '../net/sasl/index.js';
import { ApiKey } from '../protocol/api-keys.js';
import { ApiVersions, type ApiVersionsResponse } from '../protocol/api-versions.js';
import { Metadata, type MetadataResponse } from '../protocol/metadata.js';
import { pickVersion } from '../protocol/versions.js';
import { errorForCode, ErrorCode } from '../protocol/error-codes.js';
import { KafkaJSConnectionError, KafkaJSError, KafkaJSProtocolError, ProducerClosedError } from '../errors.js';
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
  /** The cluster's finalized feature levels as this broker last reported them (ApiVersions
   * v3+): transaction.version >= 2 turns on transactions V2 (KIP-890). */
  finalizedFeatures: ReadonlyMap<string, number> = new Map();
  private readying: Promise<void> | null = null;
  /** Set by close(): a handshake under way stops at its next step. */
  private closed = false;
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

  isClosed(): boolean {
    return this.closed;
  }

  /** Connect, learn the broker's API versions (ApiVersions v3, then an older version when the
   * broker answers UNSUPPORTED_VERSION) and authenticate (SASL); or wait for a
   * re-authentication in progress. */
  ensureReady(): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError());
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
    this.checkOpen();
    let res = await this.requestApiVersions(ApiVersions.maxVersion);
    this.checkOpen();
    if (res.errorCode === ErrorCode.UNSUPPORTED_VERSION) {
      // As Java's NetworkClient: retry with the highest ApiVersions version the broker lists
      // (Kafka 2.4+ lists it with the error), or v0 when it lists none (librdkafka's mock).
      const theirs = res.apiKeys.find((k) => k.apiKey === ApiKey.ApiVersions)?.maxVersion ?? 0;
      res = await this.requestApiVersions(Math.max(0, Math.min(theirs, ApiVersions.maxVersion - 1)));
      this.checkOpen();
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
    if (res.finalizedFeatures) this.finalizedFeatures = res.finalizedFeatures;
  }

  private requestApiVersions(version: number): Promise<ApiVersionsResponse> {
    return this.conn.request(
      ApiKey.ApiVersions,
      version,
      version >= ApiVersions.flexibleFrom,
      ApiVersions.encode(version, CLIENT_SOFTWARE),
      ApiVersions.decode,
      { responseHeaderV0: true },
    );
  }

  private checkOpen(): void {
    if (this.closed) throw this.closedError();
  }

  private closedError(): KafkaJSConnectionError {
    // Retriable: a broker that left the metadata is closed too, and a request on its way to
    // it can be sent to the new leader after a refresh.
    return new KafkaJSConnectionError(`Connection to ${this.address} was closed by the client`, {
      broker: this.address,
      code: 'ECONNCLOSED',
    });
  }

  /** The version of an API to use with this broker: the highest both sides support
   * (pickVersion throws KafkaJSServerDoesNotSupportApiKey when there is none). */
  version(desc: { apiKey: number; minVersion: number; maxVersion: number }): number {
    return pickVersion(desc, this.versions?.get(desc.apiKey));
  }

  close(): Promise<void> {
    this.closed = true;
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

/** The connection events (KafkaJS instrumentation) a cluster re-emits, once listened to. */
export const CONNECTION_EVENTS: readonly string[] = ['request', 'request_timeout', 'request_queue_size'];

export class Cluster extends EventEmitter {
  /** Fallbacks for metadata: fresh entries replace retired ones (see the top). */
  private bootstrap: Broker[];
  readonly brokers = new Map<number, Broker>();
  readonly topics = new Map<string, TopicState>();
  /** Brokers removed from `brokers` whose connection closes once idle; close() ends them. */
  private readonly retiring = new Set<Broker>();
  /** Topics the producer has used: each refresh asks for all of them. */
  private readonly wanted = new Set<string>();
  private refreshing: Promise<void> | null = null;
  private refreshAgain = false;
  private closed = false;
  /** The bootstrap connections were retired after the first metadata answer. */
  private bootstrapRetired = false;
  private ageTimer: NodeJS.Timeout | null = null;
  /** The last error a refresh ran into; reported when a send gives up waiting for metadata. */
  lastError: Error | null = null;

  /** The connection events someone listens to here: only those are forwarded from the
   * connections (a connection nobody listens to makes no event object per request). */
  private readonly forwarded = new Set<string>();

  constructor(private readonly config: ResolvedConfig) {
    super();
    this.on('newListener', (ev: string | symbol) => {
      if (typeof ev !== 'string' || !CONNECTION_EVENTS.includes(ev) || this.forwarded.has(ev)) return;
      this.forwarded.add(ev);
      for (const b of this.bootstrap) this.forward(b, ev);
      for (const b of this.brokers.values()) this.forward(b, ev);
      for (const b of this.retiring) this.forward(b, ev);
    });
    this.bootstrap = this.newBootstrap();
  }

  private forward(broker: Broker, ev: string): void {
    broker.conn.on(ev, (payload: unknown) => this.emit(ev, payload));
  }

  private newBootstrap(): Broker[] {
    return this.config.bootstrapServers.map((b, i) => this.track(new Broker(-1 - i, b.host, b.port, this.config)));
  }

  /** Fetch metadata for `topics` (added to those already wanted). Rejects when no broker
   * answered: with the non-retriable error a broker gave, if any (a response that does not
   * decode, an API the broker lacks), else with the last error; with ProducerClosedError
   * after close(). */
  refresh(topics: readonly string[] = []): Promise<void> {
    for (const t of topics) this.wanted.add(t);
    if (this.closed) return Promise.reject(this.closedError());
    if (this.refreshing) {
      if (topics.length > 0) this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = this.fetch()
      .finally(() => {
        this.refreshing = null;
      })
      .then(() => {
        if (this.refreshAgain && !this.closed) {
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

  /**
   * The broker to send a request that any broker can answer (Metadata; InitProducerId for
   * the idempotent producer), as Java's NetworkClient.leastLoadedNode picks it: among the
   * brokers of the latest metadata (the bootstrap servers before there is any), a connected
   * one with nothing outstanding at once; else the connected one with the fewest requests
   * outstanding that is below max.in.flight; else one whose connection is being opened; else
   * one that may be connected now. Undefined when every broker is closed, in reconnect
   * backoff, or saturated. The search starts at a random broker, as Java's does, so that
   * clients spread their metadata load.
   */
  leastLoadedBroker(): Broker | undefined {
    const known = [...this.brokers.values()];
    const nodes = known.length > 0 ? known : this.bootstrap;
    const now = Date.now();
    const offset = Math.floor(Math.random() * nodes.length);
    let ready: Broker | undefined;
    let readyLoad = Infinity;
    let connecting: Broker | undefined;
    let connectable: Broker | undefined;
    for (let i = 0; i < nodes.length; i++) {
      const b = nodes[(offset + i) % nodes.length]!;
      if (b.isClosed() || b.conn.isBackingOff(now)) continue;
      const load = b.conn.outstandingRequests;
      if (b.isReady()) {
        if (load === 0) return b;
        if (load < this.config.maxInFlight && load < readyLoad) {
          ready = b;
          readyLoad = load;
        }
      } else if (b.conn.isConnecting() || b.conn.isConnected()) {
        // isConnected without versions: the handshake is under way.
        connecting ??= b;
      } else {
        connectable ??= b;
      }
    }
    return ready ?? connecting ?? connectable;
  }

  /** Brokers to ask for metadata, best first: the least-loaded, then the rest of the known
   * brokers by load (ready ones first), then the bootstrap servers. */
  private candidates(): Broker[] {
    const first = this.leastLoadedBroker();
    const rank = (b: Broker): number => (b.isReady() ? 0 : 1_000_000) + b.conn.outstandingRequests;
    const rest = [...this.brokers.values(), ...this.bootstrap]
      .filter((b) => b !== first && !b.isClosed())
      .sort((a, b) => (a.nodeId < 0 ? 1 : 0) - (b.nodeId < 0 ? 1 : 0) || rank(a) - rank(b));
    return first ? [first, ...rest] : rest;
  }

  private closedError(): ProducerClosedError {
    return new ProducerClosedError('The producer was closed before metadata could be fetched');
  }

  private async fetch(): Promise<void> {
    if (this.closed) throw this.closedError();
    const errors: Error[] = [];
    for (const broker of this.candidates()) {
      if (this.closed) throw this.closedError();
      try {
        await broker.ensureReady();
        if (this.closed) throw this.closedError();
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
        // An answer that arrives after close() must not create brokers (and connections).
        if (this.closed) throw this.closedError();
        this.apply(res);
        this.lastError = null;
        this.scheduleAgeRefresh();
        return;
      } catch (err) {
        if (this.closed) throw this.closedError();
        errors.push(err as Error);
      }
    }
    // A non-retriable error (a response that does not decode, an API the broker lacks, a
    // protocol error) says more than the connection errors of the other brokers, and waiting
    // will not cure it: report it, so that callers fail fast instead of timing out.
    const fatal = errors.find((e) => e instanceof KafkaJSError && !e.retriable);
    const last = fatal ?? errors[errors.length - 1];
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
    const listed = new Set<number>();
    for (const b of res.brokers) {
      listed.add(b.nodeId);
      const old = this.brokers.get(b.nodeId);
      if (old && (old.host !== b.host || old.port !== b.port)) {
        this.brokers.delete(b.nodeId);
        this.retire(old);
      }
      if (!this.brokers.has(b.nodeId)) this.brokers.set(b.nodeId, this.track(new Broker(b.nodeId, b.host, b.port, this.config)));
    }
    // Brokers the cluster no longer lists: the sender stops picking them now; their
    // connection closes when what is in flight on it has completed.
    for (const [id, broker] of this.brokers) {
      if (listed.has(id)) continue;
      this.brokers.delete(id);
      this.retire(broker);
    }
    if (!this.bootstrapRetired && this.brokers.size > 0) {
      // From now on the listed brokers answer metadata; the bootstrap connections would only
      // duplicate theirs. Fresh bootstrap entries (no socket) stay as the last fallback.
      this.bootstrapRetired = true;
      const old = this.bootstrap;
      this.bootstrap = this.newBootstrap();
      for (const b of old) this.retire(b);
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

  /**
   * KIP-951: a Produce response refusing a partition (NOT_LEADER_OR_FOLLOWER and kin, v10+) may
   * name the new leader and its endpoint. Taken at once when its leader epoch is newer than the
   * one we know, so the retry goes to the right broker without waiting for the metadata
   * refresh, which still follows (as in the Java client's Sender).
   */
  applyLeaderHint(
    topic: string,
    partition: number,
    leaderId: number,
    leaderEpoch: number,
    endpoints: readonly { nodeId: number; host: string; port: number }[],
  ): void {
    const state = this.topics.get(topic)?.partitions[partition];
    if (!state || leaderId < 0 || leaderEpoch <= state.leaderEpoch) return;
    if (!this.brokers.has(leaderId)) {
      const e = endpoints.find((x) => x.nodeId === leaderId);
      if (!e) return;
      this.brokers.set(leaderId, this.track(new Broker(leaderId, e.host, e.port, this.config)));
    }
    state.leader = leaderId;
    state.leaderEpoch = leaderEpoch;
  }

  /** Close a broker's connection once nothing is outstanding on it. */
  private retire(broker: Broker): void {
    if (broker.isClosed()) return;
    this.retiring.add(broker);
    void broker.conn.whenIdle().then(() => {
      this.retiring.delete(broker);
      return broker.close();
    });
  }

  /** Broker connection events (KafkaJS instrumentation) re-emitted by the cluster. */
  private track(broker: Broker): Broker {
    for (const ev of this.forwarded) this.forward(broker, ev);
    return broker;
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

  /** Connections open now, bootstrap and retiring ones included (the connection-count metric). */
  connectionCount(): number {
    let n = 0;
    for (const b of this.brokers.values()) if (b.conn.isConnected()) n++;
    for (const b of this.bootstrap) if (b.conn.isConnected()) n++;
    for (const b of this.retiring) if (b.conn.isConnected()) n++;
    return n;
  }

  /** Closes every connection (those retiring too) and stops refreshing, for good. Resolves
   * once every socket is closed; a fetch under way then rejects with ProducerClosedError. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.ageTimer) clearTimeout(this.ageTimer);
    this.ageTimer = null;
    const all = [...this.brokers.values(), ...this.bootstrap, ...this.retiring];
    this.retiring.clear();
    await Promise.all(all.map((b) => b.close().catch(() => undefined)));
  }
}
