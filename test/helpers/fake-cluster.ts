/**
 * A scripted fake Kafka cluster on loopback, for failure tests that must say exactly which
 * request fails how and in which order (issue 8). A real broker cannot be told "answer the
 * next Produce with NOT_LEADER_OR_FOLLOWER on partition 1, then hold the one after"; the
 * Java client's SenderTest does it with MockClient.prepareResponse, franz-go with kfake's
 * ControlKey hooks. This is that, for a producer talking real TCP: one node:net server per
 * broker (port 0), decoding requests and encoding responses with the project's own protocol
 * code (ts/protocol/ plus the broker's half in fake-protocol.ts).
 *
 * Without a script it is a correct broker for a producer: ApiVersions, Metadata,
 * InitProducerId and Produce, with every record batch decoded (compressed ones too) and
 * appended to its partition's log, and idempotent batches checked as Kafka 4.1's
 * ProducerStateManager checks them (storage/.../log/ProducerAppendInfo.java).
 *
 *   const fake = await FakeCluster.start({ brokers: 3, topics: [{ name: 't', partitions: 2 }] });
 *   fake.prepare(ApiKey.Produce, { errors: [{ topic: 't', partition: 0, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER }] });
 *   ... produce to fake.bootstrap ...
 *   assert.deepEqual(fake.values('t', 0), ['a', 'b']);
 *   await fake.stop();
 *
 * How it behaves, and why:
 * - Node ids are 0..brokers-1; partition p of a topic is led by broker p % brokers unless the
 *   topic says otherwise. Each partition has one log shared by the whole cluster (replication
 *   is perfect): a leader move keeps what was written, as a clean election would.
 * - Requests of one connection are processed one at a time and answered in order, as a Kafka
 *   broker does (it mutes a connection while a request is being handled). So a held,
 *   delayed or black-holed request also holds back the requests behind it on that
 *   connection, and a request is only appended once the ones before it were answered.
 * - Every request is recorded (fake.requests, nextRequest) when its bytes arrive, and scripts
 *   are matched then, in arrival order: "the next Produce" means the next one to arrive.
 * - A request's work (appending, handing out a producer id) is done when it is processed;
 *   delayMs/hold only postpone the answer. noResponse and closeAfterReceive lose the request
 *   before any work unless `append: true` says it was written anyway.
 * - Produce with acks=0 gets no response; when one of its partitions fails, the connection is
 *   closed, as a Kafka broker does so that the client notices.
 * - An API the fake does not implement (and no onRequest hook answers), or a version outside
 *   what the broker advertises, closes the connection: Kafka cannot parse such a request either.
 *
 * Recipes for the sequences of issue 8 (each checked against this fake by hand or in
 * test/unit/helpers/fake-cluster.test.ts):
 *   half-open / black-holed connection   prepare(ApiKey.Produce, { noResponse: true })
 *   leader dies mid-request              h = prepare(ApiKey.Produce, { hold: true }); await h.received;
 *                                        await stopBroker(n); setLeader(t, p, m)
 *   lost ack (written, answer lost)      { closeAfterReceive: true, append: true }, or a hold then
 *                                        h.drop(), or { errors: [...], append: true }
 *   NOT_LEADER on batch 1, batch 2       h = prepare(ApiKey.Produce, { hold: true, errors: [{ ..NOT_LEADER }] });
 *     in flight (item 9)                 await h.received; send batch 2; await nextRequest(ApiKey.Produce);
 *                                        h.release()  -> today's producer writes "2, 1"
 *   MESSAGE_TOO_LARGE (split)            addTopic(name, n, { maxMessageBytes: 1000 })
 *   throttle, record_errors              { throttleTimeMs }, errors[i].recordErrors
 *   KIP-951 leader hint                  errors[i].currentLeader (node_endpoints filled in)
 *   close during a metadata fetch        h = prepare(ApiKey.Metadata, { hold: true }); await h.received; close()
 *   a paused broker (SIGSTOP)            pause(n) ... resume(n)
 *   brokers leaving the metadata         setAdvertisedBrokers([0, 2])
 *   librdkafka mock's ApiVersions v3     onRequest(ApiKey.ApiVersions, (r) => r.apiVersion >= 3 ? { rawBody } : undefined)
 *   state lost on the broker             forgetProducers(t), with unknownProducerSequence
 *   every scripted step happened         assert.deepEqual(fake.pendingScripts(), [])
 *   nothing left open after close        await waitFor(() => fake.connections().length === 0)
 */

import { createHash } from 'node:crypto';
import * as net from 'node:net';
import { CodecId } from '../../ts/backend/types.js';
import { initCodecs } from '../../ts/compression/index.js';
import { ApiKey, apiName } from '../../ts/protocol/api-keys.js';
import { ErrorCode } from '../../ts/protocol/error-codes.js';
import { Reader } from '../../ts/protocol/reader.js';
import { decodeRecordBatches, type DecodedBatch } from '../../ts/protocol/record-batch.js';
import { readRequestHeader } from '../../ts/protocol/request-header.js';
import { Writer } from '../../ts/protocol/writer.js';
import {
  decodeAddOffsetsToTxnRequest,
  decodeAddPartitionsToTxnRequest,
  decodeEndTxnRequest,
  decodeFindCoordinatorRequest,
  decodeTxnOffsetCommitRequest,
  encodeAddPartitionsToTxnResponse,
  encodeEndTxnResponse,
  encodeErrorOnlyTxnResponse,
  encodeFindCoordinatorResponse,
  encodeTxnOffsetCommitResponse,
  type AddOffsetsToTxnRequestBody,
  type AddPartitionsToTxnRequestBody,
  type EndTxnRequestBody,
  type FindCoordinatorRequestBody,
  type TxnOffsetCommitRequestBody,
  decodeApiVersionsRequest,
  decodeInitProducerIdRequest,
  decodeMetadataRequest,
  decodeProduceRequest,
  encodeApiVersionsResponse,
  encodeInitProducerIdResponse,
  encodeMetadataResponse,
  encodeProduceResponse,
  isFlexible,
  type ApiRange,
  type ApiVersionsRequestBody,
  type InitProducerIdRequestBody,
  type MetadataRequestBody,
  type MetadataResponseBody,
  type ProducePartitionResponseBody,
} from './fake-protocol.js';

export { ApiKey, ErrorCode };

// ---- configuration -------------------------------------------------------------------------

/** What every broker advertises by default: the versions ts/ speaks (ts/protocol/*.ts) and
 * InitProducerId 0..5 for the idempotent producer. */
export const DEFAULT_API_VERSIONS: readonly ApiRange[] = [
  { apiKey: ApiKey.Produce, minVersion: 3, maxVersion: 11 },
  { apiKey: ApiKey.Metadata, minVersion: 1, maxVersion: 12 },
  { apiKey: ApiKey.ApiVersions, minVersion: 0, maxVersion: 3 },
  { apiKey: ApiKey.InitProducerId, minVersion: 0, maxVersion: 5 },
];

/** What a broker advertises for transactions, after Kafka 4.1: with transaction.version 2
 * (KIP-890) also Produce v12, EndTxn v5 and TxnOffsetCommit v5; with 1 the versions before them. */
export function transactionApiVersions(transactionVersion: 0 | 1 | 2): ApiRange[] {
  const v2 = transactionVersion >= 2;
  return [
    ...DEFAULT_API_VERSIONS.map((k) => (k.apiKey === ApiKey.Produce && v2 ? { ...k, maxVersion: 12 } : k)),
    { apiKey: ApiKey.FindCoordinator, minVersion: 0, maxVersion: 5 },
    { apiKey: ApiKey.AddPartitionsToTxn, minVersion: 0, maxVersion: 3 },
    { apiKey: ApiKey.AddOffsetsToTxn, minVersion: 0, maxVersion: 4 },
    { apiKey: ApiKey.EndTxn, minVersion: 0, maxVersion: v2 ? 5 : 4 },
    { apiKey: ApiKey.TxnOffsetCommit, minVersion: 0, maxVersion: v2 ? 5 : 4 },
  ];
}

export interface FakeTopicSpec {
  name: string;
  partitions: number;
  /** The leader of each partition: a node id for all, or per partition. Default p % brokers. */
  leader?: number | ((partition: number) => number);
  /** The topic's max.message.bytes: a record batch larger than this is refused with
   * MESSAGE_TOO_LARGE, as Kafka does. Default no limit. */
  maxMessageBytes?: number;
}

export interface FakeClusterOptions {
  /** How many brokers (node ids 0..n-1). Default 1. */
  brokers?: number;
  topics?: readonly FakeTopicSpec[];
  /** What ApiVersions advertises, for every broker or per node id. Default DEFAULT_API_VERSIONS. */
  apiVersions?: readonly ApiRange[] | ((nodeId: number) => readonly ApiRange[]);
  /** Default 'fake-cluster'. */
  clusterId?: string;
  /** Default 0. */
  controllerId?: number;
  /**
   * A batch from a producer id this partition has no state for, whose base sequence is not 0.
   * Kafka 4.1 accepts it ('accept', the default: ProducerAppendInfo.checkSequence lets any
   * sequence through when there is no producer epoch, e.g. after retention removed the
   * producer's batches). 'out-of-order' answers OUT_OF_ORDER_SEQUENCE_NUMBER (what a
   * transactions-v2 broker does); 'unknown-producer-id' answers UNKNOWN_PRODUCER_ID (what
   * brokers before KIP-360 did when they had lost the producer's state).
   */
  unknownProducerSequence?: 'accept' | 'out-of-order' | 'unknown-producer-id';
  /**
   * InitProducerId v3+ without a transactional id but with the current producer id and epoch
   * (KIP-360). 'bump-epoch' (default) answers the same id with epoch + 1; 'new-id' answers a
   * fresh id with epoch 0, which is what Kafka 4.1 does for a null transactional id
   * (TransactionCoordinator.handleInitProducerId).
   */
  initProducerIdWithExisting?: 'bump-epoch' | 'new-id';
  /** Partitions of a topic created when Metadata asks for an unknown one with
   * allow_auto_topic_creation; 0 (default) creates none: UNKNOWN_TOPIC_OR_PARTITION. */
  autoCreatePartitions?: number;
  /** The first producer id InitProducerId hands out. Default 1000. */
  firstProducerId?: number;
  /**
   * The transaction.version feature the brokers report as finalized (ApiVersions v3), and the
   * transaction APIs they advertise with it (transactionApiVersions) unless `apiVersions` is
   * given. 2 (as a new Kafka 4.1 cluster): transactions V2, where Produce v12 adds partitions,
   * TxnOffsetCommit v5 adds the group and EndTxn v5 bumps the epoch. 1 (default, as a cluster
   * upgraded from 3.x that has not raised the feature): the V1 protocol.
   */
  transactionVersion?: 0 | 1 | 2;
  /** The node that coordinates every transactional id and group. Default 0 (setCoordinator moves it). */
  coordinator?: number;
}

/** What the fake's transaction coordinator keeps per transactional id. */
export interface FakeTransaction {
  producerId: number;
  epoch: number;
  state: 'Empty' | 'Ongoing' | 'CompleteCommit' | 'CompleteAbort';
  partitions: Set<string>;
  groups: Set<string>;
  /** Offsets sent in the open transaction, per group, by 'topic:partition'. */
  pendingOffsets: Map<string, Map<string, number>>;
  /** Ended transactions, in order. */
  outcomes: ('commit' | 'abort')[];
}

/** A generic one-error script for the transaction APIs (every partition of the request gets it). */
export interface TxnScript extends ScriptTiming {
  errorCode?: number;
}

// ---- what the fake records -----------------------------------------------------------------

export interface FakeBatchSummary {
  /** -1 when not idempotent. */
  producerId: number;
  epoch: number;
  baseSequence: number;
  recordCount: number;
  codec: CodecId;
  transactional: boolean;
  crcValid: boolean;
  /** Size of the batch on the wire. */
  sizeInBytes: number;
  /** The batch's records (decompressed). */
  records: FakeRecord[];
}

export interface FakeProducePartitionRequest {
  topic: string;
  partition: number;
  batches: FakeBatchSummary[];
  /** Why the partition's records could not be decoded (answered CORRUPT_MESSAGE). */
  decodeError?: string;
}

export interface ProduceRequestSummary {
  transactionalId: string | null;
  acks: number;
  timeoutMs: number;
  /** Every topic-partition of the request, in request order. */
  partitions: FakeProducePartitionRequest[];
}

/** The decoded body of each API the fake understands. */
export interface RequestBodies {
  [ApiKey.Produce]: ProduceRequestSummary;
  [ApiKey.Metadata]: MetadataRequestBody;
  [ApiKey.ApiVersions]: ApiVersionsRequestBody;
  [ApiKey.InitProducerId]: InitProducerIdRequestBody;
  [ApiKey.FindCoordinator]: FindCoordinatorRequestBody;
  [ApiKey.AddPartitionsToTxn]: AddPartitionsToTxnRequestBody;
  [ApiKey.AddOffsetsToTxn]: AddOffsetsToTxnRequestBody;
  [ApiKey.EndTxn]: EndTxnRequestBody;
  [ApiKey.TxnOffsetCommit]: TxnOffsetCommitRequestBody;
}
export type KnownApiKey = keyof RequestBodies;
type BodyOf<K extends number> = K extends KnownApiKey ? RequestBodies[K] : unknown;

export interface FakeRequest<B = unknown> {
  /** Arrival order across the whole cluster, from 0. */
  seq: number;
  nodeId: number;
  /** Which client connection it came on (see connections()). */
  connectionId: number;
  apiKey: number;
  apiName: string;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /** Decoded for the APIs in RequestBodies; undefined for others or when decoding failed. */
  body: B | undefined;
  /** Why the body could not be decoded, or why the request was refused. */
  error?: string;
  /** Frame size without the 4-byte length prefix. */
  size: number;
  /** Date.now() when its last byte was read. */
  receivedAt: number;
  /** Date.now() when its response was written; undefined while unanswered, and for ever when
   * it got none (acks=0, noResponse, a dropped hold, a closed connection). */
  respondedAt?: number;
}

export interface FakeRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: { key: string; value: Buffer | null }[];
  timestamp: number;
}

export interface FakeLogRecord {
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: { key: string; value: Buffer | null }[];
  timestamp: number;
}

/** One appended batch, as the partition's log holds it. */
export interface FakeLogBatch {
  /** Offset of the first record. */
  offset: number;
  lastOffset: number;
  producerId: number;
  epoch: number;
  baseSequence: number;
  transactional: boolean;
  /** Transactional batches: 'open' until the transaction ends, then its outcome (the
   * markers a real broker writes; a read_committed reader sees only 'committed' ones). */
  txn?: 'open' | 'committed' | 'aborted';
  codec: CodecId;
  /** The broker that appended it (the leader then). */
  nodeId: number;
  records: FakeLogRecord[];
}

export interface ConnectionInfo {
  id: number;
  nodeId: number;
  remotePort: number;
  openedAt: number;
}

// ---- scripts --------------------------------------------------------------------------------

/** How and when a scripted request is answered; common to every API. */
export interface ScriptTiming {
  /** Only a request arriving on this broker matches. */
  node?: number;
  /** Answer this much later (the work is done at once). */
  delayMs?: number;
  /** Do not answer until the handle prepare() returns is released (or dropped). */
  hold?: true;
  /** Read the request and never answer it (a half-open or black-holed peer). */
  noResponse?: true;
  /** Close the connection right after reading the request. */
  closeAfterReceive?: true;
  /** throttle_time_ms of the response (KIP-219). */
  throttleTimeMs?: number;
  /** The response body as these bytes (after the response header), instead of encoding one.
   * Nothing else is done for the request (a Produce is written only with `append: true`). */
  rawBody?: Buffer;
  /** Answer once this promise settles (for onRequest hooks, which cannot hold). */
  until?: Promise<unknown>;
}

export interface ProducePartitionError {
  topic: string;
  /** Omitted: every partition of the topic in the request. */
  partition?: number;
  errorCode: number;
  errorMessage?: string;
  /** v8+ record_errors: which records of the batch caused the error. */
  recordErrors?: { batchIndex: number; message?: string | null }[];
  /** v10+ current_leader (KIP-951); its broker's endpoint goes into node_endpoints. */
  currentLeader?: { leaderId: number; leaderEpoch: number };
  /** log_start_offset of the answer (a broker fills it in for UNKNOWN_PRODUCER_ID); default -1. */
  logStartOffset?: number;
}

export interface ProduceScript extends ScriptTiming {
  errors?: ProducePartitionError[];
  /**
   * Write the records even though the answer says otherwise or never comes: the partitions in
   * `errors` are appended before their error is answered (a lost ack), and with noResponse /
   * closeAfterReceive or rawBody the whole request is appended. Default false.
   */
  append?: boolean;
}

export interface MetadataScript extends ScriptTiming {
  /** Every topic of the response gets this error (and no partitions). */
  errorCode?: number;
  topicErrors?: { topic: string; errorCode: number }[];
  partitionErrors?: { topic: string; partition: number; errorCode: number }[];
  /** Answer these leaders this once (the cluster's own leaders do not change). */
  leaders?: { topic: string; partition: number; leaderId: number; leaderEpoch?: number }[];
  /** List only these brokers. */
  brokers?: number[];
}

export interface InitProducerIdScript extends ScriptTiming {
  errorCode?: number;
  /** Hand out this id / epoch (with no error). */
  producerId?: number;
  producerEpoch?: number;
}

export interface ApiVersionsScript extends ScriptTiming {
  /** UNSUPPORTED_VERSION is written in the v0 layout, as a broker does. */
  errorCode?: number;
  /** Advertise these ranges this once. */
  apiKeys?: ApiRange[];
}

export interface Scripts {
  [ApiKey.Produce]: ProduceScript;
  [ApiKey.Metadata]: MetadataScript;
  [ApiKey.InitProducerId]: InitProducerIdScript;
  [ApiKey.ApiVersions]: ApiVersionsScript;
  [ApiKey.FindCoordinator]: TxnScript;
  [ApiKey.AddPartitionsToTxn]: TxnScript;
  [ApiKey.AddOffsetsToTxn]: TxnScript;
  [ApiKey.EndTxn]: TxnScript;
  [ApiKey.TxnOffsetCommit]: TxnScript;
}
export type ScriptFor<K extends number> = K extends keyof Scripts ? Scripts[K] : ScriptTiming;

/** What a hold script's prepare() returns. */
export interface HoldHandle<B = unknown> {
  /** Resolves when the held request has arrived (rejects if the fake stops first). */
  readonly received: Promise<FakeRequest<B>>;
  /** Answer now (or as soon as it arrives). */
  release(): void;
  /** Close the connection instead of answering (the answer is lost; the work stays done). */
  drop(): void;
}

/** A hook's answer: a script for this one request (not `hold`: use `until`), or nothing. */
export type HookScript<K extends number> = Omit<ScriptFor<K>, 'hold' | 'node'>;
export type RequestHook<K extends number> = (req: FakeRequest<BodyOf<K>>) => HookScript<K> | void | undefined;

// ---- internal state -------------------------------------------------------------------------

interface ProducerEntry {
  epoch: number;
  /** The last (at most 5) appended batches, for duplicate detection and sequence checks. */
  batches: { firstSeq: number; lastSeq: number; firstOffset: number; lastOffset: number }[];
}

/** Kafka keeps this many batches per producer and partition (ProducerStateEntry.NUM_BATCHES_TO_RETAIN). */
const BATCHES_RETAINED = 5;

interface PartitionState {
  topic: string;
  partition: number;
  leader: number;
  leaderEpoch: number;
  log: FakeLogBatch[];
  nextOffset: number;
  producers: Map<number, ProducerEntry>;
}

interface TopicState {
  name: string;
  topicId: Buffer;
  partitions: PartitionState[];
  maxMessageBytes: number;
}

interface Hold {
  state: 'waiting' | 'release' | 'drop';
  wake: (() => void) | null;
  arrived: (req: FakeRequest) => void;
  failArrived: (err: Error) => void;
}

interface Prepared {
  apiKey: number;
  script: ScriptTiming;
  hold: Hold | null;
}

interface Job {
  req: FakeRequest;
  script: ScriptTiming | null;
  hold: Hold | null;
  /** Produce only: the decoded batches per request partition (same order as the summary). */
  batches?: (DecodedBatch[] | null)[];
}

interface FakeConnection {
  id: number;
  nodeId: number;
  socket: net.Socket;
  openedAt: number;
  chunks: Buffer[];
  buffered: number;
  queue: Job[];
  running: boolean;
  closed: boolean;
}

interface BrokerState {
  nodeId: number;
  server: net.Server;
  port: number;
  connections: Set<FakeConnection>;
  paused: boolean;
  resumeWaiters: (() => void)[];
  /** stopBroker() took it down. */
  down: boolean;
}

interface RequestWaiter {
  apiKey: number;
  node: number | undefined;
  resolve: (req: FakeRequest) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

const HOST = '127.0.0.1';
const MAX_FRAME = 100 * 1024 * 1024;
const INT32_MAX = 0x7fff_ffff;

/** Each batch's size on the wire (baseOffset and batchLength included), for batches that
 * decodeRecordBatches has already walked. */
function batchSizes(buf: Buffer): number[] {
  const sizes: number[] = [];
  for (let at = 0; at + 12 <= buf.length; ) {
    const size = 12 + buf.readInt32BE(at + 8);
    sizes.push(size);
    at += size;
  }
  return sizes;
}

/** Kafka's DefaultRecordBatch.incrementSequence: sequences wrap from INT32_MAX to 0. */
function incrementSequence(seq: number, by: number): number {
  return seq > INT32_MAX - by ? by - (INT32_MAX - seq) - 1 : seq + by;
}

function inSequence(lastSeq: number, nextSeq: number): boolean {
  return nextSeq === lastSeq + 1 || (nextSeq === 0 && lastSeq === INT32_MAX);
}

// ---- the cluster ----------------------------------------------------------------------------

export class FakeCluster {
  /** Every request received, in arrival order. */
  readonly requests: FakeRequest[] = [];
  /** Errors thrown by onRequest hooks (the request was refused and its connection closed). */
  readonly hookErrors: Error[] = [];
  private readonly brokers: BrokerState[] = [];
  private readonly topics = new Map<string, TopicState>();
  private readonly prepared: Prepared[] = [];
  private readonly hooks = new Map<number, RequestHook<number>[]>();
  private readonly waiters = new Set<RequestWaiter>();
  private readonly timers = new Set<{ timer: NodeJS.Timeout; done: () => void }>();
  private readonly holds = new Set<Hold>();
  private readonly opts: Required<Omit<FakeClusterOptions, 'topics' | 'apiVersions'>> & {
    apiVersions: (nodeId: number) => readonly ApiRange[];
  };
  private nextConnectionId = 0;
  private nextProducerId: number;
  /** Producer ids handed out (null transactional id) and their current epoch. */
  private readonly producerEpochs = new Map<number, number>();
  /** Transactional ids seen by InitProducerId and their id / epoch. */
  private readonly transactionalIds = new Map<string, FakeTransaction>();
  /** Committed offsets per group, by 'topic:partition'. */
  private readonly groupOffsets = new Map<string, Map<string, number>>();
  private coordinatorNode: number;
  private readonly transactionVersion: 0 | 1 | 2;
  private stopped = false;
  /** Resolves when stop() begins: whatever waits (until, delays) gives up then. */
  private readonly stopping: Promise<void>;
  private signalStop!: () => void;
  /** Brokers Metadata lists (setAdvertisedBrokers); null: every broker. */
  private advertised: number[] | null = null;

  private constructor(opts: FakeClusterOptions) {
    this.transactionVersion = opts.transactionVersion ?? 1;
    this.coordinatorNode = opts.coordinator ?? 0;
    const apiVersions = opts.apiVersions ?? transactionApiVersions(this.transactionVersion);
    this.opts = {
      brokers: opts.brokers ?? 1,
      clusterId: opts.clusterId ?? 'fake-cluster',
      controllerId: opts.controllerId ?? 0,
      unknownProducerSequence: opts.unknownProducerSequence ?? 'accept',
      initProducerIdWithExisting: opts.initProducerIdWithExisting ?? 'bump-epoch',
      autoCreatePartitions: opts.autoCreatePartitions ?? 0,
      firstProducerId: opts.firstProducerId ?? 1000,
      transactionVersion: this.transactionVersion,
      coordinator: this.coordinatorNode,
      apiVersions: typeof apiVersions === 'function' ? apiVersions : () => apiVersions,
    };
    this.nextProducerId = this.opts.firstProducerId;
    this.stopping = new Promise((resolve) => (this.signalStop = resolve));
  }

  /** Starts the brokers (each a node:net server on 127.0.0.1, port 0) and creates the topics. */
  static async start(opts: FakeClusterOptions = {}): Promise<FakeCluster> {
    const fake = new FakeCluster(opts);
    if (!(Number.isInteger(fake.opts.brokers) && fake.opts.brokers >= 1)) {
      throw new RangeError(`brokers must be a positive integer, got ${opts.brokers}`);
    }
    // zstd batches are decoded by a WebAssembly module that instantiates asynchronously.
    await initCodecs();
    try {
      for (let nodeId = 0; nodeId < fake.opts.brokers; nodeId++) fake.brokers.push(await fake.listen(nodeId));
    } catch (err) {
      await fake.stop();
      throw err;
    }
    for (const t of opts.topics ?? []) fake.addTopic(t.name, t.partitions, t);
    return fake;
  }

  private listen(nodeId: number, port = 0): Promise<BrokerState> {
    return new Promise((resolve, reject) => {
      const broker: BrokerState = {
        nodeId,
        server: net.createServer((socket) => this.onConnection(broker, socket)),
        port: 0,
        connections: new Set(),
        paused: false,
        resumeWaiters: [],
        down: false,
      };
      broker.server.once('error', reject);
      broker.server.listen(port, HOST, () => {
        broker.port = (broker.server.address() as net.AddressInfo).port;
        resolve(broker);
      });
    });
  }

  /**
   * Takes a broker down like a killed process: its server closes (connecting is refused) and
   * every socket is destroyed. Metadata still lists it and it keeps its leaderships until
   * setLeader moves them, as in the seconds before a controller notices.
   */
  /** Moves the coordinator of every transactional id and group to `nodeId`: the old one
   * answers NOT_COORDINATOR from now on (its state moves along, as a partition leader move of
   * __transaction_state would carry it). */
  setCoordinator(nodeId: number): void {
    this.checkNode(nodeId, false);
    this.coordinatorNode = nodeId;
  }

  /** The coordinator's state for a transactional id (undefined when never initialized). */
  transaction(transactionalId: string): FakeTransaction | undefined {
    return this.transactionalIds.get(transactionalId);
  }

  /** A group's committed offsets, by 'topic:partition' (offsets of open or aborted
   * transactions are not there). */
  committedOffsets(groupId: string): Record<string, number> {
    return Object.fromEntries(this.groupOffsets.get(groupId) ?? []);
  }

  /** The values a read_committed consumer reads: no aborted or still open transactional batch. */
  committedValues(topic: string, partition: number): (string | null)[] {
    return this.log(topic, partition)
      .filter((b) => !b.transactional || b.txn === 'committed')
      .flatMap((b) => b.records.map((r) => (r.value === null ? null : r.value.toString())));
  }

  async stopBroker(nodeId: number): Promise<void> {
    this.checkNode(nodeId, false);
    const b = this.brokers[nodeId];
    if (b.down) return;
    b.down = true;
    for (const c of [...b.connections]) this.closeConnection(c);
    for (const w of b.resumeWaiters.splice(0)) w(); // their connections are gone: let them end
    await new Promise<void>((resolve) => b.server.close(() => resolve()));
  }

  /** Brings a stopped broker back on the same port. */
  async startBroker(nodeId: number): Promise<void> {
    this.checkNode(nodeId, false);
    if (this.stopped) throw new Error('FakeCluster is stopped');
    const old = this.brokers[nodeId];
    if (!old.down) return;
    const b = await this.listen(nodeId, old.port);
    b.paused = old.paused;
    this.brokers[nodeId] = b;
  }

  /** Which brokers Metadata lists from now on (null: all of them, the default), e.g. to make
   * one leave the cluster. Leaders are not changed: move them with setLeader. */
  setAdvertisedBrokers(nodeIds: readonly number[] | null): void {
    for (const id of nodeIds ?? []) this.checkNode(id, false);
    this.advertised = nodeIds === null ? null : [...nodeIds];
  }

  /** 'host:port,host:port,...' of every broker. */
  get bootstrap(): string {
    return this.brokers.map((b) => `${HOST}:${b.port}`).join(',');
  }

  /** Every broker's node id and address. */
  get brokerList(): { nodeId: number; host: string; port: number }[] {
    return this.brokers.map((b) => ({ nodeId: b.nodeId, host: HOST, port: b.port }));
  }

  // ---- topics and leaders -------------------------------------------------------------------

  addTopic(name: string, partitions: number, opts: Omit<FakeTopicSpec, 'name' | 'partitions'> = {}): void {
    if (this.topics.has(name)) throw new Error(`topic ${name} exists`);
    if (!(Number.isInteger(partitions) && partitions >= 1)) throw new RangeError(`partitions must be >= 1, got ${partitions}`);
    const n = this.brokers.length;
    const leaderOf = (p: number): number =>
      opts.leader === undefined ? p % n : typeof opts.leader === 'function' ? opts.leader(p) : opts.leader;
    const topic: TopicState = {
      name,
      topicId: createHash('md5').update(name).digest(),
      partitions: [],
      maxMessageBytes: opts.maxMessageBytes ?? Infinity,
    };
    for (let p = 0; p < partitions; p++) {
      const leader = leaderOf(p);
      this.checkNode(leader, true);
      topic.partitions.push({ topic: name, partition: p, leader, leaderEpoch: 0, log: [], nextOffset: 0, producers: new Map() });
    }
    this.topics.set(name, topic);
  }

  /** Moves a partition's leadership (-1: no leader, LEADER_NOT_AVAILABLE) and bumps its leader
   * epoch. Metadata answers it at once; Produce to the old leader gets NOT_LEADER_OR_FOLLOWER. */
  setLeader(topic: string, partition: number, nodeId: number): void {
    this.checkNode(nodeId, true);
    const p = this.partitionState(topic, partition);
    p.leader = nodeId;
    p.leaderEpoch++;
  }

  /** The partition's current leader and leader epoch. */
  leader(topic: string, partition: number): { nodeId: number; leaderEpoch: number } {
    const p = this.partitionState(topic, partition);
    return { nodeId: p.leader, leaderEpoch: p.leaderEpoch };
  }

  private checkNode(nodeId: number, allowNone: boolean): void {
    if ((allowNone && nodeId === -1) || (Number.isInteger(nodeId) && nodeId >= 0 && nodeId < this.brokers.length)) return;
    throw new RangeError(`no broker ${nodeId} (node ids are 0..${this.brokers.length - 1})`);
  }

  private partitionState(topic: string, partition: number): PartitionState {
    const t = this.topics.get(topic);
    const p = t?.partitions[partition];
    if (!p) throw new Error(`no partition ${topic}-${partition}`);
    return p;
  }

  // ---- what was written ---------------------------------------------------------------------

  /** The batches appended to a partition, in log order. */
  log(topic: string, partition: number): FakeLogBatch[] {
    return [...this.partitionState(topic, partition).log];
  }

  /** The partition's records in log order (every batch flattened). */
  records(topic: string, partition: number): FakeLogRecord[] {
    return this.partitionState(topic, partition).log.flatMap((b) => b.records);
  }

  /** The partition's record values as UTF-8 strings (null stays null), in log order. */
  values(topic: string, partition: number): (string | null)[] {
    return this.records(topic, partition).map((r) => (r.value === null ? null : r.value.toString('utf8')));
  }

  /** Forget the idempotent producer state of one partition, or of every partition (what
   * retention or DeleteRecords does on a broker): the next batch is judged by
   * `unknownProducerSequence`. */
  forgetProducers(topic?: string, partition?: number): void {
    for (const t of this.topics.values()) {
      if (topic !== undefined && t.name !== topic) continue;
      for (const p of t.partitions) if (partition === undefined || p.partition === partition) p.producers.clear();
    }
  }

  /** Prepared scripts not consumed yet, oldest first: a test can check that every step it
   * scripted really happened (assert.deepEqual(fake.pendingScripts(), [])). */
  pendingScripts(): { apiKey: number; apiName: string; script: ScriptTiming }[] {
    return this.prepared.map((p) => ({ apiKey: p.apiKey, apiName: apiName(p.apiKey), script: p.script }));
  }

  /** The requests of one API, typed. */
  requestsOf<K extends number>(apiKey: K, node?: number): FakeRequest<BodyOf<K>>[] {
    return this.requests.filter((r) => r.apiKey === apiKey && (node === undefined || r.nodeId === node)) as FakeRequest<BodyOf<K>>[];
  }

  // ---- scripting ----------------------------------------------------------------------------

  /**
   * Scripts the next request of `apiKey` (on `script.node` if given) to arrive: one-shot,
   * consumed in the order prepared, like MockClient.prepareResponse. Unscripted requests get
   * the default behaviour. With `hold: true` it returns the handle that releases the answer.
   */
  prepare<K extends number>(apiKey: K, script: ScriptFor<K> & { hold: true }): HoldHandle<BodyOf<K>>;
  prepare<K extends number>(apiKey: K, script: ScriptFor<K>): void;
  prepare<K extends number>(apiKey: K, script: ScriptFor<K>): HoldHandle<BodyOf<K>> | void {
    if (this.stopped) throw new Error('FakeCluster is stopped');
    const s = script as ScriptTiming;
    if (s.node !== undefined) this.checkNode(s.node, false);
    if (!s.hold) {
      this.prepared.push({ apiKey, script: s, hold: null });
      return;
    }
    const { hold, handle } = this.newHold<BodyOf<K>>();
    this.prepared.push({ apiKey, script: s, hold });
    return handle;
  }

  private newHold<B>(): { hold: Hold; handle: HoldHandle<B> } {
    let arrived!: (req: FakeRequest) => void;
    let failArrived!: (err: Error) => void;
    const received = new Promise<FakeRequest<B>>((resolve, reject) => {
      arrived = resolve as (req: FakeRequest) => void;
      failArrived = reject;
    });
    // A test that never awaits `received` must not see an unhandled rejection at stop().
    received.catch(() => undefined);
    const hold: Hold = { state: 'waiting', wake: null, arrived, failArrived };
    this.holds.add(hold);
    const settle = (state: 'release' | 'drop') => {
      if (hold.state !== 'waiting') return;
      hold.state = state;
      hold.wake?.();
    };
    return { hold, handle: { received, release: () => settle('release'), drop: () => settle('drop') } };
  }

  /**
   * A hook called for every request of `apiKey` as it arrives, before the prepared scripts:
   * return a script to apply to that request, or nothing for the usual handling. For anything
   * prepare() cannot say, and for APIs the fake does not implement (answer them with
   * `rawBody`). Returns a function that removes the hook.
   */
  onRequest<K extends number>(apiKey: K, hook: RequestHook<K>): () => void {
    const list = this.hooks.get(apiKey) ?? [];
    list.push(hook as unknown as RequestHook<number>);
    this.hooks.set(apiKey, list);
    return () => {
      const i = list.indexOf(hook as unknown as RequestHook<number>);
      if (i >= 0) list.splice(i, 1);
    };
  }

  /** Resolves with the next request of `apiKey` to arrive (on `node` if given) after this
   * call; rejects after `timeoutMs` (default 5000) or when the fake stops. */
  nextRequest<K extends number>(apiKey: K, opts: { node?: number; timeoutMs?: number } = {}): Promise<FakeRequest<BodyOf<K>>> {
    if (this.stopped) return Promise.reject(new Error('FakeCluster is stopped'));
    const timeoutMs = opts.timeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      const waiter: RequestWaiter = {
        apiKey,
        node: opts.node,
        resolve: resolve as (req: FakeRequest) => void,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new Error(`nextRequest: no ${apiName(apiKey)} request${opts.node === undefined ? '' : ` on node ${opts.node}`} within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  // ---- connections --------------------------------------------------------------------------

  /** Stop reading and answering on every socket of a broker (as a SIGSTOPped broker: the
   * kernel still accepts connections; nothing is read, processed or written). */
  pause(nodeId: number): void {
    this.checkNode(nodeId, false);
    const b = this.brokers[nodeId];
    b.paused = true;
    for (const c of b.connections) c.socket.pause();
  }

  resume(nodeId: number): void {
    this.checkNode(nodeId, false);
    const b = this.brokers[nodeId];
    b.paused = false;
    for (const c of b.connections) c.socket.resume();
    const waiters = b.resumeWaiters.splice(0);
    for (const w of waiters) w();
  }

  /** Destroys every client socket now (of one broker, or all). */
  dropConnections(nodeId?: number): void {
    for (const b of this.brokers) {
      if (nodeId !== undefined && b.nodeId !== nodeId) continue;
      for (const c of [...b.connections]) this.closeConnection(c);
    }
  }

  /** The client sockets open now (of one broker, or all). */
  connections(nodeId?: number): ConnectionInfo[] {
    const out: ConnectionInfo[] = [];
    for (const b of this.brokers) {
      if (nodeId !== undefined && b.nodeId !== nodeId) continue;
      for (const c of b.connections) out.push({ id: c.id, nodeId: c.nodeId, remotePort: c.socket.remotePort ?? 0, openedAt: c.openedAt });
    }
    return out;
  }

  /** Closes every server and socket, clears every timer, and settles every pending promise
   * (nextRequest and hold handles reject). Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.signalStop();
    const stoppedError = () => new Error('FakeCluster stopped');
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(stoppedError());
    }
    this.waiters.clear();
    for (const t of this.timers) {
      clearTimeout(t.timer);
      t.done();
    }
    this.timers.clear();
    for (const h of this.holds) {
      h.failArrived(stoppedError());
      h.wake?.();
    }
    this.holds.clear();
    for (const b of this.brokers) {
      for (const w of b.resumeWaiters.splice(0)) w();
      for (const c of [...b.connections]) this.closeConnection(c);
    }
    await Promise.all(this.brokers.filter((b) => !b.down).map((b) => new Promise<void>((resolve) => b.server.close(() => resolve()))));
  }

  // ---- reading requests ---------------------------------------------------------------------

  private onConnection(broker: BrokerState, socket: net.Socket): void {
    if (this.stopped) {
      socket.destroy();
      return;
    }
    const conn: FakeConnection = {
      id: this.nextConnectionId++,
      nodeId: broker.nodeId,
      socket,
      openedAt: Date.now(),
      chunks: [],
      buffered: 0,
      queue: [],
      running: false,
      closed: false,
    };
    broker.connections.add(conn);
    socket.setNoDelay(true);
    if (broker.paused) socket.pause();
    socket.on('data', (chunk: Buffer) => this.onData(conn, chunk));
    socket.on('error', () => undefined); // ECONNRESET and the like: 'close' follows
    socket.on('close', () => {
      conn.closed = true;
      broker.connections.delete(conn);
    });
  }

  private onData(conn: FakeConnection, chunk: Buffer): void {
    if (conn.closed) return;
    conn.chunks.push(chunk);
    conn.buffered += chunk.length;
    while (conn.buffered >= 4) {
      const head = conn.chunks.length === 1 ? conn.chunks[0] : Buffer.concat(conn.chunks);
      conn.chunks = [head];
      const size = head.readInt32BE(0);
      if (size < 0 || size > MAX_FRAME) {
        this.closeConnection(conn);
        return;
      }
      if (head.length < 4 + size) return;
      const frame = head.subarray(4, 4 + size);
      const rest = head.subarray(4 + size);
      conn.chunks = rest.length > 0 ? [rest] : [];
      conn.buffered = rest.length;
      this.onFrame(conn, frame);
      if (conn.closed) return;
    }
  }

  private onFrame(conn: FakeConnection, frame: Buffer): void {
    let req: FakeRequest;
    let r: Reader;
    try {
      r = new Reader(frame);
      const apiKey = frame.readInt16BE(0);
      const apiVersion = frame.readInt16BE(2);
      const h = readRequestHeader(r, isFlexible(apiKey, apiVersion));
      req = {
        seq: this.requests.length,
        nodeId: conn.nodeId,
        connectionId: conn.id,
        apiKey: h.apiKey,
        apiName: apiName(h.apiKey),
        apiVersion: h.apiVersion,
        correlationId: h.correlationId,
        clientId: h.clientId,
        body: undefined,
        size: frame.length,
        receivedAt: Date.now(),
      };
    } catch {
      this.closeConnection(conn); // not even a request header: Kafka closes the connection
      return;
    }

    const job: Job = { req, script: null, hold: null };
    try {
      this.decodeBody(req, r, job);
      // Stricter than a broker on purpose: bytes left after a body the fake decodes mean the
      // client wrote a field the version does not have, which a test should hear about.
      if (req.body !== undefined && r.remaining !== 0) req.error = `${r.remaining} byte(s) after the ${req.apiName} v${req.apiVersion} body`;
    } catch (err) {
      req.error = `cannot decode the body: ${(err as Error).message}`;
    }
    if (req.error === undefined && req.apiKey !== ApiKey.ApiVersions && req.body !== undefined) {
      const range = this.opts.apiVersions(conn.nodeId).find((k) => k.apiKey === req.apiKey);
      if (range === undefined || req.apiVersion < range.minVersion || req.apiVersion > range.maxVersion) {
        req.error = `${req.apiName} v${req.apiVersion} is not advertised by broker ${conn.nodeId}`;
      }
    }
    this.requests.push(req);
    for (const w of [...this.waiters]) {
      if (w.apiKey === req.apiKey && (w.node === undefined || w.node === req.nodeId)) {
        clearTimeout(w.timer);
        this.waiters.delete(w);
        w.resolve(req);
      }
    }

    // Hooks first, then the one-shot scripts in the order they were prepared.
    try {
      for (const hook of [...(this.hooks.get(req.apiKey) ?? [])]) {
        const s = hook(req) as ScriptTiming | undefined;
        if (s) {
          if (s.hold) throw new TypeError('an onRequest hook cannot hold a request: return { until: promise }');
          job.script = s;
          break;
        }
      }
    } catch (err) {
      // A hook that throws (an assertion in it, say) must not take the socket handler down
      // with it: the request is refused, the connection closed, and the error kept.
      this.hookErrors.push(err as Error);
      req.error = `onRequest hook threw: ${(err as Error).message}`;
      this.closeConnection(conn);
      return;
    }
    if (job.script === null) {
      const i = this.prepared.findIndex((p) => p.apiKey === req.apiKey && (p.script.node === undefined || p.script.node === req.nodeId));
      if (i >= 0) {
        const [p] = this.prepared.splice(i, 1);
        job.script = p.script;
        job.hold = p.hold;
      }
    }
    job.hold?.arrived(req);
    conn.queue.push(job);
    void this.runQueue(conn);
  }

  private decodeBody(req: FakeRequest, r: Reader, job: Job): void {
    const v = req.apiVersion;
    switch (req.apiKey) {
      case ApiKey.ApiVersions:
        req.body = decodeApiVersionsRequest(v, r);
        return;
      case ApiKey.Metadata:
        req.body = decodeMetadataRequest(v, r);
        return;
      case ApiKey.InitProducerId:
        req.body = decodeInitProducerIdRequest(v, r);
        return;
      case ApiKey.FindCoordinator:
        req.body = decodeFindCoordinatorRequest(v, r);
        return;
      case ApiKey.AddPartitionsToTxn:
        if (v > 3) throw new Error('AddPartitionsToTxn v4+ is for brokers, not clients');
        req.body = decodeAddPartitionsToTxnRequest(v, r);
        return;
      case ApiKey.AddOffsetsToTxn:
        req.body = decodeAddOffsetsToTxnRequest(v, r);
        return;
      case ApiKey.EndTxn:
        req.body = decodeEndTxnRequest(v, r);
        return;
      case ApiKey.TxnOffsetCommit:
        req.body = decodeTxnOffsetCommitRequest(v, r);
        return;
      case ApiKey.Produce: {
        const raw = decodeProduceRequest(v, r);
        const partitions: FakeProducePartitionRequest[] = [];
        job.batches = [];
        for (const t of raw.topics) {
          for (const p of t.partitions) {
            const entry: FakeProducePartitionRequest = { topic: t.name, partition: p.index, batches: [] };
            let batches: DecodedBatch[] | null = null;
            try {
              if (p.records === null || p.records.length === 0) throw new Error('no record batch');
              batches = decodeRecordBatches(p.records);
              const sizes = batchSizes(p.records);
              entry.batches = batches.map((b, bi) => ({
                producerId: Number(b.producerId),
                epoch: b.producerEpoch,
                baseSequence: b.baseSequence,
                recordCount: b.records.length,
                codec: (b.attributes & 0x07) as CodecId,
                transactional: (b.attributes & 0x10) !== 0,
                crcValid: b.crcValid,
                sizeInBytes: sizes[bi],
                records: b.records.map((r) => ({ key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp })),
              }));
            } catch (err) {
              entry.decodeError = (err as Error).message;
              batches = null;
            }
            partitions.push(entry);
            job.batches.push(batches);
          }
        }
        req.body = { transactionalId: raw.transactionalId, acks: raw.acks, timeoutMs: raw.timeoutMs, partitions };
        return;
      }
      default:
        return; // not decoded: a hook may answer it with rawBody
    }
  }

  // ---- processing, one request at a time per connection -------------------------------------

  private async runQueue(conn: FakeConnection): Promise<void> {
    if (conn.running) return;
    conn.running = true;
    const broker = this.brokers[conn.nodeId];
    while (conn.queue.length > 0 && !conn.closed && !this.stopped) {
      await this.whileRunning(broker);
      if (conn.closed || this.stopped) break;
      const job = conn.queue.shift()!;
      const goOn = await this.process(conn, broker, job);
      if (!goOn) return; // black-holed: this connection answers nothing more, like a half-open peer
    }
    conn.running = false;
  }

  /** Resolves at once, or when a paused broker resumes (or the fake stops). */
  private whileRunning(broker: BrokerState): Promise<void> {
    if (!broker.paused || this.stopped) return Promise.resolve();
    return new Promise((resolve) => broker.resumeWaiters.push(resolve));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.timers.delete(entry);
          resolve();
        }, ms),
        done: resolve,
      };
      this.timers.add(entry);
    });
  }

  /** Handles one request; false when the connection must answer nothing more. */
  private async process(conn: FakeConnection, broker: BrokerState, job: Job): Promise<boolean> {
    const { req } = job;
    const script = job.script ?? {};
    const lost = script.noResponse === true || script.closeAfterReceive === true;
    const refused = req.error !== undefined && script.rawBody === undefined;

    let body: Buffer | null = null;
    let closeAfterWrite = false;
    if (refused) {
      if (!lost) {
        this.closeConnection(conn);
        return false;
      }
    } else if (script.rawBody !== undefined) {
      if (req.apiKey === ApiKey.Produce && (script as ProduceScript).append) this.handleProduce(conn, job, true);
      body = script.rawBody;
    } else {
      switch (req.apiKey) {
        case ApiKey.ApiVersions:
          body = this.handleApiVersions(conn, req as FakeRequest<ApiVersionsRequestBody>, script as ApiVersionsScript);
          break;
        case ApiKey.Metadata:
          body = lost ? null : this.handleMetadata(req as FakeRequest<MetadataRequestBody>, script as MetadataScript);
          break;
        case ApiKey.InitProducerId:
          body = lost ? null : this.handleInitProducerId(req as FakeRequest<InitProducerIdRequestBody>, script as InitProducerIdScript);
          break;
        case ApiKey.FindCoordinator:
        case ApiKey.AddPartitionsToTxn:
        case ApiKey.AddOffsetsToTxn:
        case ApiKey.EndTxn:
        case ApiKey.TxnOffsetCommit:
          body = lost ? null : this.handleTxn(conn, req, script as TxnScript);
          break;
        case ApiKey.Produce: {
          if (lost && !(script as ProduceScript).append) break;
          const out = this.handleProduce(conn, job, lost);
          body = out.body;
          closeAfterWrite = out.closeConnection;
          break;
        }
        default:
          if (!lost) {
            req.error = `${req.apiName} is not implemented by the fake (answer it from an onRequest hook with rawBody)`;
            this.closeConnection(conn);
            return false;
          }
      }
    }

    if (script.closeAfterReceive) {
      this.closeConnection(conn);
      return false;
    }
    if (script.noResponse) return false;
    if (script.delayMs !== undefined && script.delayMs > 0) await this.sleep(script.delayMs);
    if (script.until !== undefined) await Promise.race([script.until.then(() => undefined, () => undefined), this.stopping]);
    if (job.hold) {
      const hold = job.hold;
      if (hold.state === 'waiting') await new Promise<void>((resolve) => (hold.wake = resolve));
      this.holds.delete(hold);
      if (hold.state === 'drop') {
        this.closeConnection(conn);
        return false;
      }
    }
    await this.whileRunning(broker);
    if (conn.closed || this.stopped) return false;
    if (body !== null) this.write(conn, req, body);
    if (closeAfterWrite) {
      this.closeConnection(conn);
      return false;
    }
    return true;
  }

  private write(conn: FakeConnection, req: FakeRequest, body: Buffer): void {
    const w = new Writer(16);
    w.int32(4 + body.length + (this.flexibleResponseHeader(req) ? 1 : 0)).int32(req.correlationId);
    if (this.flexibleResponseHeader(req)) w.emptyTaggedFields();
    conn.socket.cork();
    conn.socket.write(w.finish());
    conn.socket.write(body);
    conn.socket.uncork();
    req.respondedAt = Date.now();
  }

  /** Response header v1 from the first flexible version, except ApiVersions (always v0). */
  private flexibleResponseHeader(req: FakeRequest): boolean {
    return req.apiKey !== ApiKey.ApiVersions && isFlexible(req.apiKey, req.apiVersion);
  }

  private closeConnection(conn: FakeConnection): void {
    conn.closed = true;
    conn.queue.length = 0;
    conn.socket.destroy();
    this.brokers[conn.nodeId]?.connections.delete(conn);
  }

  // ---- default handlers ---------------------------------------------------------------------

  private handleApiVersions(conn: FakeConnection, req: FakeRequest<ApiVersionsRequestBody>, script: ApiVersionsScript): Buffer {
    const own = this.opts.apiVersions(conn.nodeId);
    const ownRange = own.find((k) => k.apiKey === ApiKey.ApiVersions) ?? { apiKey: ApiKey.ApiVersions, minVersion: 0, maxVersion: 3 };
    const throttleTimeMs = script.throttleTimeMs ?? 0;
    // A version the broker does not know: UNSUPPORTED_VERSION listing its ApiVersions range,
    // in the v0 layout (the Java broker's answer; the client retries with a version it knows).
    const version = Math.min(req.apiVersion, 3);
    if (req.apiVersion > ownRange.maxVersion || req.apiVersion > 3) {
      return encodeApiVersionsResponse(0, { errorCode: ErrorCode.UNSUPPORTED_VERSION, apiKeys: [ownRange], throttleTimeMs });
    }
    const errorCode = script.errorCode ?? ErrorCode.NONE;
    const apiKeys = errorCode === ErrorCode.UNSUPPORTED_VERSION ? [ownRange] : script.apiKeys ?? own;
    const finalizedFeatures = this.transactionVersion > 0 ? new Map([['transaction.version', this.transactionVersion]]) : undefined;
    return encodeApiVersionsResponse(version, { errorCode, apiKeys, throttleTimeMs, finalizedFeatures });
  }

  private handleMetadata(req: FakeRequest<MetadataRequestBody>, script: MetadataScript): Buffer {
    const body = req.body!;
    const listed = script.brokers ?? this.advertised ?? this.brokers.map((b) => b.nodeId);
    const brokers = listed.map((id) => ({ nodeId: id, host: HOST, port: this.brokers[id]?.port ?? 0, rack: null }));
    const names = body.topics ?? [...this.topics.keys()];
    const topics: MetadataResponseBody['topics'][number][] = [];
    for (const name of names) {
      let t = this.topics.get(name);
      if (t === undefined && body.allowAutoTopicCreation && this.opts.autoCreatePartitions > 0 && name.length > 0) {
        this.addTopic(name, this.opts.autoCreatePartitions);
        t = this.topics.get(name);
      }
      const topicError = script.errorCode ?? script.topicErrors?.find((e) => e.topic === name)?.errorCode;
      if (t === undefined || topicError !== undefined) {
        topics.push({
          errorCode: topicError ?? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          name,
          topicId: t?.topicId ?? Buffer.alloc(16),
          isInternal: false,
          partitions: [],
        });
        continue;
      }
      topics.push({
        errorCode: ErrorCode.NONE,
        name,
        topicId: t.topicId,
        isInternal: false,
        partitions: t.partitions.map((p) => {
          const override = script.leaders?.find((l) => l.topic === name && l.partition === p.partition);
          const leaderId = override?.leaderId ?? p.leader;
          const leaderEpoch = override?.leaderEpoch ?? p.leaderEpoch;
          const scripted = script.partitionErrors?.find((e) => e.topic === name && e.partition === p.partition);
          const replicas = leaderId >= 0 ? [leaderId, ...this.brokers.map((b) => b.nodeId).filter((id) => id !== leaderId)] : this.brokers.map((b) => b.nodeId);
          return {
            errorCode: scripted?.errorCode ?? (leaderId < 0 ? ErrorCode.LEADER_NOT_AVAILABLE : ErrorCode.NONE),
            partitionIndex: p.partition,
            leaderId,
            leaderEpoch,
            replicaNodes: replicas,
            isrNodes: replicas,
            offlineReplicas: [],
          };
        }),
      });
    }
    return encodeMetadataResponse(req.apiVersion, {
      throttleTimeMs: script.throttleTimeMs ?? 0,
      brokers,
      clusterId: this.opts.clusterId,
      controllerId: this.opts.controllerId,
      topics,
    });
  }

  private handleInitProducerId(req: FakeRequest<InitProducerIdRequestBody>, script: InitProducerIdScript): Buffer {
    const body = req.body!;
    const answer = (errorCode: number, producerId: number, producerEpoch: number) =>
      encodeInitProducerIdResponse(req.apiVersion, { throttleTimeMs: script.throttleTimeMs ?? 0, errorCode, producerId, producerEpoch });
    if (script.errorCode !== undefined && script.errorCode !== ErrorCode.NONE) return answer(script.errorCode, -1, -1);
    if (script.producerId !== undefined || script.producerEpoch !== undefined) {
      const id = script.producerId ?? this.nextProducerId++;
      const epoch = script.producerEpoch ?? 0;
      this.producerEpochs.set(id, epoch);
      return answer(ErrorCode.NONE, id, epoch);
    }
    const fresh = (): [number, number] => {
      const id = this.nextProducerId++;
      this.producerEpochs.set(id, 0);
      return [id, 0];
    };
    if (body.transactionalId !== null) {
      // A minimal transaction coordinator: one id per transactional id, each init bumps its
      // epoch (fencing the previous instance) after aborting a transaction it left open, a new
      // id when the epoch would overflow. With the current id and epoch (KIP-360) it bumps
      // that epoch; a stale one is fenced.
      if (this.coordinatorNode !== req.nodeId) return answer(ErrorCode.NOT_COORDINATOR, -1, -1);
      const known = this.transactionalIds.get(body.transactionalId);
      if (known !== undefined && body.producerId >= 0) {
        if (body.producerId !== known.producerId) return answer(ErrorCode.INVALID_PRODUCER_ID_MAPPING, -1, -1);
        if (body.producerEpoch !== known.epoch) return answer(ErrorCode.PRODUCER_FENCED, -1, -1);
      }
      if (known !== undefined && known.state === 'Ongoing') this.endTransaction(known, false);
      let next: FakeTransaction;
      if (known === undefined || known.epoch >= 0x7ffe) {
        const [id] = fresh();
        next = { producerId: id, epoch: 0, state: 'Empty', partitions: new Set(), groups: new Set(), pendingOffsets: new Map(), outcomes: known?.outcomes ?? [] };
      } else {
        next = { ...known, epoch: known.epoch + 1, state: 'Empty' };
      }
      this.transactionalIds.set(body.transactionalId, next);
      this.producerEpochs.set(next.producerId, next.epoch);
      return answer(ErrorCode.NONE, next.producerId, next.epoch);
    }
    if (body.producerId < 0 || this.opts.initProducerIdWithExisting === 'new-id') {
      const [id, epoch] = fresh();
      return answer(ErrorCode.NONE, id, epoch);
    }
    // KIP-360: the producer asks to bump the epoch of the id it has.
    const current = this.producerEpochs.get(body.producerId);
    if (current === undefined) return answer(ErrorCode.INVALID_PRODUCER_ID_MAPPING, -1, -1);
    if (body.producerEpoch === current - 1) return answer(ErrorCode.NONE, body.producerId, current); // a retried bump
    if (body.producerEpoch !== current) return answer(ErrorCode.INVALID_PRODUCER_EPOCH, -1, -1);
    if (current >= 0x7ffe) {
      const [id, epoch] = fresh();
      return answer(ErrorCode.NONE, id, epoch);
    }
    this.producerEpochs.set(body.producerId, current + 1);
    return answer(ErrorCode.NONE, body.producerId, current + 1);
  }

  /** FindCoordinator, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit: a small
   * transaction coordinator and group coordinator (no groups' membership: generation -1 and
   * any member are accepted). A scripted errorCode answers every partition with it. */
  private handleTxn(conn: FakeConnection, req: FakeRequest, script: TxnScript): Buffer {
    const v = req.apiVersion;
    const throttleTimeMs = script.throttleTimeMs ?? 0;
    const scripted = script.errorCode;
    const notCoordinator = conn.nodeId !== this.coordinatorNode;
    const check = (transactionalId: string, producerId: number, epoch: number): [number, FakeTransaction | undefined] => {
      if (notCoordinator) return [ErrorCode.NOT_COORDINATOR, undefined];
      const t = this.transactionalIds.get(transactionalId);
      if (t === undefined || t.producerId !== producerId) return [ErrorCode.INVALID_PRODUCER_ID_MAPPING, t];
      if (epoch < t.epoch) return [v >= 2 ? ErrorCode.PRODUCER_FENCED : ErrorCode.INVALID_PRODUCER_EPOCH, t];
      if (epoch > t.epoch) return [ErrorCode.INVALID_PRODUCER_EPOCH, t];
      return [ErrorCode.NONE, t];
    };
    switch (req.apiKey) {
      case ApiKey.FindCoordinator: {
        const body = req.body as FindCoordinatorRequestBody;
        const node = this.coordinatorNode;
        return encodeFindCoordinatorResponse(v, {
          throttleTimeMs,
          coordinators: body.keys.map((key) => ({
            key,
            nodeId: scripted ? -1 : node,
            host: HOST,
            port: scripted ? -1 : this.brokers[node].port,
            errorCode: scripted ?? ErrorCode.NONE,
            errorMessage: null,
          })),
        });
      }
      case ApiKey.AddPartitionsToTxn: {
        const body = req.body as AddPartitionsToTxnRequestBody;
        let [code, t] = check(body.transactionalId, body.producerId, body.producerEpoch);
        if (scripted !== undefined) code = scripted;
        if (code === ErrorCode.NONE) {
          for (const topic of body.topics) {
            for (const p of topic.partitions) {
              if (!this.topics.get(topic.name)?.partitions[p]) code = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
            }
          }
        }
        if (code === ErrorCode.NONE) {
          for (const topic of body.topics) for (const p of topic.partitions) t!.partitions.add(`${topic.name}:${p}`);
          t!.state = 'Ongoing';
        }
        return encodeAddPartitionsToTxnResponse(v, {
          throttleTimeMs,
          results: body.topics.map((topic) => ({ name: topic.name, partitions: topic.partitions.map((p) => ({ partitionIndex: p, errorCode: code })) })),
        });
      }
      case ApiKey.AddOffsetsToTxn: {
        const body = req.body as AddOffsetsToTxnRequestBody;
        let [code, t] = check(body.transactionalId, body.producerId, body.producerEpoch);
        if (scripted !== undefined) code = scripted;
        if (code === ErrorCode.NONE) {
          t!.groups.add(body.groupId);
          t!.state = 'Ongoing';
        }
        return encodeErrorOnlyTxnResponse(v, { throttleTimeMs, errorCode: code });
      }
      case ApiKey.TxnOffsetCommit: {
        const body = req.body as TxnOffsetCommitRequestBody;
        let [code, t] = check(body.transactionalId, body.producerId, body.producerEpoch);
        // v5 (transactions V2) adds the group to the transaction itself; before, AddOffsetsToTxn must have.
        if (code === ErrorCode.NONE && !t!.groups.has(body.groupId)) {
          if (v >= 5) {
            t!.groups.add(body.groupId);
            t!.state = 'Ongoing';
          } else {
            code = ErrorCode.INVALID_TXN_STATE;
          }
        }
        if (scripted !== undefined) code = scripted;
        if (code === ErrorCode.NONE) {
          const pending = t!.pendingOffsets.get(body.groupId) ?? new Map<string, number>();
          for (const topic of body.topics) for (const p of topic.partitions) pending.set(`${topic.name}:${p.partitionIndex}`, p.committedOffset);
          t!.pendingOffsets.set(body.groupId, pending);
        }
        return encodeTxnOffsetCommitResponse(v, {
          throttleTimeMs,
          topics: body.topics.map((topic) => ({ name: topic.name, partitions: topic.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: code })) })),
        });
      }
      case ApiKey.EndTxn: {
        const body = req.body as EndTxnRequestBody;
        let [code, t] = check(body.transactionalId, body.producerId, body.producerEpoch);
        // Nothing ongoing: INVALID_TXN_STATE, except an abort at v5 (transactions V2), which
        // Kafka 4.1 accepts and answers with a bumped epoch (checked on a real broker: a
        // client that saw only failed sends still aborts to move its epoch on).
        const emptyAbortV2 = v >= 5 && !body.committed;
        if (code === ErrorCode.NONE && t!.state !== 'Ongoing' && !emptyAbortV2) code = ErrorCode.INVALID_TXN_STATE;
        if (scripted !== undefined) code = scripted;
        if (code === ErrorCode.NONE) {
          this.endTransaction(t!, body.committed);
          // Transactions V2: every EndTxn bumps the epoch, fencing the transaction's stragglers.
          if (v >= 5) {
            t!.epoch++;
            this.producerEpochs.set(t!.producerId, t!.epoch);
          }
        }
        return encodeEndTxnResponse(v, {
          throttleTimeMs,
          errorCode: code,
          producerId: code === ErrorCode.NONE ? t!.producerId : -1,
          producerEpoch: code === ErrorCode.NONE ? t!.epoch : -1,
        });
      }
      default:
        throw new Error(`handleTxn: ${req.apiName}`);
    }
  }

  /** Writes the markers: the transaction's open batches become committed or aborted, its
   * offsets the groups' committed offsets (or are dropped). */
  private endTransaction(t: FakeTransaction, commit: boolean): void {
    for (const topic of this.topics.values()) {
      for (const p of topic.partitions) {
        if (!t.partitions.has(`${topic.name}:${p.partition}`)) continue;
        for (const b of p.log) if (b.producerId === t.producerId && b.txn === 'open') b.txn = commit ? 'committed' : 'aborted';
      }
    }
    if (commit) {
      for (const [group, offsets] of t.pendingOffsets) {
        const committed = this.groupOffsets.get(group) ?? new Map<string, number>();
        for (const [k, o] of offsets) committed.set(k, o);
        this.groupOffsets.set(group, committed);
      }
    }
    t.pendingOffsets.clear();
    t.partitions.clear();
    t.groups.clear();
    t.state = commit ? 'CompleteCommit' : 'CompleteAbort';
    t.outcomes.push(commit ? 'commit' : 'abort');
  }

  /**
   * Appends (or refuses) each partition of a Produce request and builds the response.
   * `writeOnly`: the answer is lost anyway (noResponse / closeAfterReceive with append: true).
   */
  private handleProduce(conn: FakeConnection, job: Job, writeOnly: boolean): { body: Buffer | null; closeConnection: boolean } {
    const req = job.req as FakeRequest<ProduceRequestSummary>;
    const body = req.body!;
    const script = (job.script ?? {}) as ProduceScript;
    const version = req.apiVersion;
    const byTopic = new Map<string, ProducePartitionResponseBody[]>();
    const endpoints = new Set<number>();
    let anyError = false;
    body.partitions.forEach((entry, i) => {
      const scripted = script.errors?.find((e) => e.topic === entry.topic && (e.partition === undefined || e.partition === entry.partition));
      let res: ProducePartitionResponseBody;
      if (scripted !== undefined && !writeOnly) {
        if (script.append) this.appendPartition(conn.nodeId, entry, job.batches![i], version);
        res = {
          index: entry.partition,
          errorCode: scripted.errorCode,
          baseOffset: -1,
          logAppendTimeMs: -1,
          logStartOffset: scripted.logStartOffset ?? -1,
          recordErrors: (scripted.recordErrors ?? []).map((e) => ({ batchIndex: e.batchIndex, message: e.message ?? null })),
          errorMessage: scripted.errorMessage ?? null,
          currentLeader: scripted.currentLeader ?? null,
        };
        if (scripted.currentLeader && scripted.currentLeader.leaderId >= 0) endpoints.add(scripted.currentLeader.leaderId);
      } else {
        res = this.appendPartition(conn.nodeId, entry, job.batches![i], version);
        if (res.currentLeader && res.currentLeader.leaderId >= 0) endpoints.add(res.currentLeader.leaderId);
      }
      if (res.errorCode !== ErrorCode.NONE) anyError = true;
      const list = byTopic.get(entry.topic) ?? [];
      list.push(res);
      byTopic.set(entry.topic, list);
    });
    if (writeOnly) return { body: null, closeConnection: false };
    // acks=0: no response; a failed partition closes the connection (as a Kafka broker does).
    if (body.acks === 0) return { body: null, closeConnection: anyError };
    const topics = [...byTopic].map(([name, partitions]) => ({
      name,
      partitions: version >= 10 ? partitions : partitions.map((p) => ({ ...p, currentLeader: null })),
    }));
    const nodeEndpoints =
      version >= 10 ? [...endpoints].filter((id) => this.brokers[id]).map((id) => ({ nodeId: id, host: HOST, port: this.brokers[id].port, rack: null })) : [];
    return {
      body: encodeProduceResponse(version, { topics, throttleTimeMs: script.throttleTimeMs ?? 0, nodeEndpoints }),
      closeConnection: false,
    };
  }

  /** The default handling of one partition of a Produce request on broker `nodeId`. */
  private appendPartition(nodeId: number, entry: FakeProducePartitionRequest, batches: DecodedBatch[] | null, produceVersion = 11): ProducePartitionResponseBody {
    const fail = (errorCode: number, errorMessage: string | null, currentLeader: ProducePartitionResponseBody['currentLeader'] = null) => ({
      index: entry.partition,
      errorCode,
      baseOffset: -1,
      logAppendTimeMs: -1,
      logStartOffset: -1,
      recordErrors: [],
      errorMessage,
      currentLeader,
    });
    const p = this.topics.get(entry.topic)?.partitions[entry.partition];
    if (p === undefined) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `This server does not host ${entry.topic}-${entry.partition}`);
    if (p.leader !== nodeId) {
      return fail(ErrorCode.NOT_LEADER_OR_FOLLOWER, `Broker ${nodeId} is not the leader of ${entry.topic}-${entry.partition}`, {
        leaderId: p.leader,
        leaderEpoch: p.leaderEpoch,
      });
    }
    if (batches === null) return fail(ErrorCode.CORRUPT_MESSAGE, entry.decodeError ?? 'corrupt records');
    if (batches.some((b) => !b.crcValid)) return fail(ErrorCode.CORRUPT_MESSAGE, 'Record batch CRC32C does not match');
    const max = this.topics.get(entry.topic)!.maxMessageBytes;
    const tooLarge = entry.batches.find((b) => b.sizeInBytes > max);
    if (tooLarge) {
      return fail(ErrorCode.MESSAGE_TOO_LARGE, `The record batch of ${tooLarge.sizeInBytes} bytes is larger than max.message.bytes ${max}`);
    }

    // A retry of one of the producer's last 5 batches (same epoch, same sequence range) is
    // answered with the offset it got the first time and not written again
    // (UnifiedLog.analyzeAndValidateProducerState / ProducerStateEntry.findDuplicateBatch).
    for (const b of batches) {
      const pid = Number(b.producerId);
      if (pid < 0) continue;
      const st = p.producers.get(pid);
      if (st === undefined || st.epoch !== b.producerEpoch) continue;
      const lastSeq = incrementSequence(b.baseSequence, b.lastOffsetDelta);
      const dup = st.batches.find((x) => x.firstSeq === b.baseSequence && x.lastSeq === lastSeq);
      if (dup) {
        return { index: entry.partition, errorCode: ErrorCode.NONE, baseOffset: dup.firstOffset, logAppendTimeMs: -1, logStartOffset: 0, recordErrors: [], errorMessage: null, currentLeader: null };
      }
    }

    // Transactional batches (the coordinator's side of KIP-890): the producer must hold the
    // transactional id's current epoch, and the partition must be in its open transaction;
    // Produce v12 (transactions V2) adds it, earlier versions need AddPartitionsToTxn first.
    for (const b of batches) {
      if ((b.attributes & 0x10) === 0) continue;
      const txn = [...this.transactionalIds.values()].find((t) => t.producerId === Number(b.producerId));
      if (txn === undefined) return fail(ErrorCode.INVALID_PRODUCER_ID_MAPPING, `No transactional id for producer ${b.producerId}`);
      if (b.producerEpoch < txn.epoch) return fail(ErrorCode.INVALID_PRODUCER_EPOCH, `Producer epoch ${b.producerEpoch} is older than ${txn.epoch}`);
      const key = `${entry.topic}:${entry.partition}`;
      if (!txn.partitions.has(key) || txn.state !== 'Ongoing') {
        if (produceVersion < 12) return fail(ErrorCode.INVALID_TXN_STATE, `${key} is not in the transaction of producer ${b.producerId}`);
        txn.partitions.add(key);
        txn.state = 'Ongoing';
      }
    }

    // Validate every batch against a scratch copy of the producer state; the partition's
    // append is all or nothing, as in Kafka.
    const scratch = new Map<number, ProducerEntry>();
    const stateOf = (pid: number): ProducerEntry | undefined => {
      if (!scratch.has(pid)) {
        const cur = p.producers.get(pid);
        if (cur) scratch.set(pid, { epoch: cur.epoch, batches: [...cur.batches] });
      }
      return scratch.get(pid);
    };
    let offset = p.nextOffset;
    const appended: FakeLogBatch[] = [];
    for (const b of batches) {
      const pid = Number(b.producerId);
      const count = b.lastOffsetDelta + 1;
      if (pid >= 0) {
        const st = stateOf(pid);
        const curEpoch = st?.epoch ?? -1;
        const where = `producer ${pid} in ${entry.topic}-${entry.partition}`;
        if (b.producerEpoch < curEpoch) {
          return fail(ErrorCode.INVALID_PRODUCER_EPOCH, `Epoch of ${where} is ${b.producerEpoch}, which is < the last seen epoch ${curEpoch}`);
        }
        if (b.producerEpoch !== curEpoch) {
          if (b.baseSequence !== 0) {
            if (curEpoch !== -1) {
              return fail(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, `Invalid sequence number for new epoch ${b.producerEpoch} of ${where}: ${b.baseSequence} (must be 0)`);
            }
            if (this.opts.unknownProducerSequence === 'out-of-order') {
              return fail(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, `No state for ${where}: sequence ${b.baseSequence}, expected 0`);
            }
            if (this.opts.unknownProducerSequence === 'unknown-producer-id') {
              return fail(ErrorCode.UNKNOWN_PRODUCER_ID, `No state for ${where}`);
            }
          }
        } else {
          const last = st!.batches[st!.batches.length - 1];
          if (last !== undefined && !inSequence(last.lastSeq, b.baseSequence)) {
            return fail(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, `Out of order sequence number for ${where}: ${b.baseSequence} (incoming), ${last.lastSeq} (current end sequence number)`);
          }
        }
        const next: ProducerEntry = st && st.epoch === b.producerEpoch ? st : { epoch: b.producerEpoch, batches: [] };
        next.batches.push({ firstSeq: b.baseSequence, lastSeq: incrementSequence(b.baseSequence, b.lastOffsetDelta), firstOffset: offset, lastOffset: offset + count - 1 });
        if (next.batches.length > BATCHES_RETAINED) next.batches.shift();
        scratch.set(pid, next);
      }
      appended.push({
        offset,
        lastOffset: offset + count - 1,
        producerId: pid,
        epoch: b.producerEpoch,
        baseSequence: b.baseSequence,
        transactional: (b.attributes & 0x10) !== 0,
        ...((b.attributes & 0x10) !== 0 ? { txn: 'open' as const } : {}),
        codec: (b.attributes & 0x07) as CodecId,
        nodeId,
        records: b.records.map((r) => ({
          offset: offset + Number(r.offset - b.baseOffset),
          key: r.key,
          value: r.value,
          headers: r.headers,
          timestamp: r.timestamp,
        })),
      });
      offset += count;
    }
    const baseOffset = p.nextOffset;
    p.log.push(...appended);
    p.nextOffset = offset;
    for (const [pid, st] of scratch) p.producers.set(pid, st);
    return { index: entry.partition, errorCode: ErrorCode.NONE, baseOffset, logAppendTimeMs: -1, logStartOffset: 0, recordErrors: [], errorMessage: null, currentLeader: null };
  }
}

/**
 * Polls `predicate` until it is true: on setImmediate for the first rounds (most conditions
 * become true within a few event-loop turns on loopback), then every 2 ms; rejects after
 * `timeoutMs` naming `what`. For tests that must wait for something without sleeping and hoping.
 */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'the condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let round = 0; ; round++) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`waitFor: ${what} was not true within ${timeoutMs} ms`);
    await new Promise<void>((resolve) => (round < 50 ? setImmediate(resolve) : setTimeout(resolve, 2)));
  }
}
