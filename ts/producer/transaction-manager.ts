/**
 * The idempotent and transactional producer's state, after the Java client's
 * TransactionManager: the producer id and epoch from InitProducerId, and per partition the
 * next sequence to stamp, the batches that carry sequences and are not finished yet (in
 * sequence order), and the last sequence the broker acknowledged. With a transactional.id it
 * also holds the transaction state machine and talks to the coordinators (see the second
 * comment below, above TxnState).
 *
 * What the rules are for (each follows Java's TransactionManager, 3.x/4.x):
 * - Sequences are per record: a batch takes [base, base + count - 1], the next one starts after.
 * - With up to 5 requests in flight a retried batch goes out only when it is the partition's
 *   first unfinished batch (`firstInflightSequence`), so the broker sees sequences in order and
 *   the log keeps the send order.
 * - The epoch is bumped locally (KIP-360, idempotent producer only) when a partition's
 *   sequences can no longer line up with the broker's: a batch failed for good after being
 *   sent, OUT_OF_ORDER_SEQUENCE_NUMBER with no earlier batch unresolved, UNKNOWN_PRODUCER_ID.
 *   The partitions that asked for the bump get their unfinished batches' sequences rewritten
 *   from 0 under the new epoch; every other partition moves to the new epoch (sequence 0) only
 *   once its batches of the old epoch are all finished.
 * - A batch that was given up on while the broker may still have written it (delivery timeout
 *   in flight, retries exhausted) leaves its partition "unresolved": nothing new is drained
 *   there until every earlier batch has finished; then, if the broker acknowledged up to the
 *   sequence before the next one, all is well, else the epoch is bumped.
 */
import { ApiKey } from '../protocol/api-keys.js';
import { AddOffsetsToTxn } from '../protocol/add-offsets-to-txn.js';
import { AddPartitionsToTxn } from '../protocol/add-partitions-to-txn.js';
import { EndTxn } from '../protocol/end-txn.js';
import { errorForCode, ErrorCode } from '../protocol/error-codes.js';
import { CoordinatorType, FindCoordinator } from '../protocol/find-coordinator.js';
import { InitProducerId } from '../protocol/init-producer-id.js';
import { Produce, ProduceTxnV2 } from '../protocol/produce.js';
import { TxnOffsetCommit } from '../protocol/txn-offset-commit.js';
import type { ApiDescriptor } from '../protocol/versions.js';
import { KafkaJSError, KafkaJSNonRetriableError, KafkaJSProtocolError, KafkaJSTimeout, ProducerClosedError } from '../errors.js';
import type { Broker, Cluster } from './cluster.js';
import type { ResolvedConfig } from './options.js';
import type { BatchEntry, TopicPartition } from './sender.js';

/** The largest sequence; sequences wrap to 0 after it (DefaultRecordBatch.incrementSequence). */
const MAX_SEQUENCE = 0x7fffffff;

export function incrementSequence(sequence: number, increment: number): number {
  return sequence > MAX_SEQUENCE - increment ? increment - (MAX_SEQUENCE - sequence) - 1 : sequence + increment;
}

/** The last sequence of a batch of `count` records starting at `base`. */
export function lastSequence(base: number, count: number): number {
  return incrementSequence(base, count - 1);
}

/** One partition's idempotence bookkeeping (Java's TxnPartitionEntry). */
export class PartitionSequences {
  /** The producer id and epoch this partition's sequences belong to. */
  producerId = -1n;
  producerEpoch = -1;
  nextSequence = 0;
  lastAckedSequence = -1;
  lastAckedOffset = -1;
  /** Batches with a sequence that have not finished (sent, waiting to be resent, or split), by base sequence. */
  readonly inflight: BatchEntry[] = [];
  /** Set when a batch was given up on while possibly written: the sequence that should come next. */
  unresolvedNext = -1;
}

export class TransactionManager {
  producerId = -1n;
  producerEpoch = -1;
  private readonly partitions = new Map<number, PartitionSequences>();
  private epochBumpRequired = false;
  private readonly partitionsToRewrite = new Set<number>();

  constructor(txn: { transactionalId: string | null; transactionTimeoutMs: number } = { transactionalId: null, transactionTimeoutMs: 60000 }) {
    this.transactionalId = txn.transactionalId;
    this.transactionTimeoutMs = txn.transactionTimeoutMs;
  }

  hasProducerId(): boolean {
    return this.producerId >= 0n;
  }

  /** Nothing for a sender run to do here: an id, no epoch bump due, no partition's sequences
   * waiting to be resolved, not transactional. The sender then skips the run a response would
   * wake when it left no batch behind (Sender.runNeededAfterResponse). */
  idle(): boolean {
    if (!this.hasProducerId() || this.epochBumpRequired || this.transactionalId !== null) return false;
    for (const e of this.partitions.values()) if (e.unresolvedNext >= 0) return false;
    return true;
  }

  /** A new id from InitProducerId: every partition starts again at sequence 0. */
  setProducerIdAndEpoch(producerId: bigint, epoch: number): void {
    this.producerId = producerId;
    this.producerEpoch = epoch;
  }

  /** Forget the id (UNKNOWN_PRODUCER_ID past recovery, epoch exhausted): InitProducerId again. */
  resetProducerId(): void {
    this.producerId = -1n;
    this.producerEpoch = -1;
    this.epochBumpRequired = false;
    this.partitionsToRewrite.clear();
  }

  entry(tpId: number): PartitionSequences {
    let e = this.partitions.get(tpId);
    if (!e) {
      e = new PartitionSequences();
      e.producerId = this.producerId;
      e.producerEpoch = this.producerEpoch;
      this.partitions.set(tpId, e);
    }
    return e;
  }

  hasStaleProducerIdAndEpoch(e: PartitionSequences): boolean {
    return e.producerId !== this.producerId || e.producerEpoch !== this.producerEpoch;
  }

  /**
   * Whether a fresh (never sent) batch may be drained for the partition now, and if so the
   * partition's state, moved to the current epoch when its old batches are all finished
   * (Java: maybeUpdateProducerIdAndEpoch + shouldStopDrainBatchesForPartition).
   */
  freshAllowed(tpId: number): PartitionSequences | null {
    if (!this.hasProducerId() || this.epochBumpRequired) return null;
    if (this.transactionalId !== null && !this.sendToPartitionAllowed(tpId)) return null;
    const e = this.entry(tpId);
    if (this.hasStaleProducerIdAndEpoch(e)) {
      // Sequence 0 of the new epoch must not overtake batches of the old one.
      if (e.inflight.length > 0) return null;
      this.startSequencesAtBeginning(e);
    }
    if (e.unresolvedNext >= 0) return null;
    return e;
  }

  /** Whether a batch being retried may go out now: only as the partition's first unfinished batch. */
  retryAllowed(b: BatchEntry): boolean {
    if (b.baseSequence < 0) return true;
    if (!this.hasProducerId() || this.epochBumpRequired) return false;
    const e = this.entry(b.tp.id);
    return e.inflight.length === 0 || e.inflight[0] === b;
  }

  /** A fresh batch was drained with `e.nextSequence` as its base sequence. */
  addDrained(e: PartitionSequences, b: BatchEntry, recordCount: number): void {
    b.producerId = e.producerId;
    b.producerEpoch = e.producerEpoch;
    b.baseSequence = e.nextSequence;
    e.nextSequence = incrementSequence(e.nextSequence, recordCount);
    e.inflight.push(b); // drained in sequence order: the list stays sorted
  }

  /** Track a batch that already carries a sequence (the halves of a split batch). */
  addInflight(b: BatchEntry): void {
    const list = this.entry(b.tp.id).inflight;
    let i = list.length;
    while (i > 0 && list[i - 1]!.baseSequence > b.baseSequence) i--;
    list.splice(i, 0, b);
  }

  removeInflight(b: BatchEntry): void {
    if (b.baseSequence < 0) return;
    const list = this.partitions.get(b.tp.id)?.inflight;
    if (!list) return;
    const i = list.indexOf(b);
    if (i >= 0) list.splice(i, 1);
  }

  handleCompleted(b: BatchEntry, baseOffset: number): void {
    const e = this.entry(b.tp.id);
    if (b.baseSequence >= 0 && b.producerId === e.producerId && b.producerEpoch === e.producerEpoch) {
      const last = lastSequence(b.baseSequence, b.records.length);
      if (last > e.lastAckedSequence) e.lastAckedSequence = last;
    }
    if (baseOffset >= 0) {
      const lastOffset = baseOffset + b.records.length - 1;
      if (lastOffset > e.lastAckedOffset) e.lastAckedOffset = lastOffset;
    }
    this.removeInflight(b);
  }

  /**
   * Whether an idempotent batch that failed with `errorCode` may be retried (Java's
   * TransactionManager.canRetry); may request an epoch bump on the way.
   */
  canRetry(errorCode: number, retriable: boolean, b: BatchEntry, logStartOffset: number): boolean {
    const e = this.entry(b.tp.id);
    if (this.transactionalId !== null && (errorCode === UNKNOWN_PRODUCER_ID || errorCode === OUT_OF_ORDER_SEQUENCE_NUMBER)) {
      // A transactional producer cannot bump its epoch alone: the transaction must be aborted
      // (and, with V1, the epoch bumped through the coordinator).
      this.txnEpochBumpRequired = true;
      return false;
    }
    if (errorCode === UNKNOWN_PRODUCER_ID) {
      // The broker lost this producer's state (e.g. the log head was deleted by retention).
      // Without the log start offset we cannot tell why: retry until a response carries it.
      if (logStartOffset < 0 || b.sequenceHasBeenReset) return true;
      this.requestEpochBumpForPartition(b.tp.id);
      return true;
    }
    if (errorCode === OUT_OF_ORDER_SEQUENCE_NUMBER) {
      const isNext = b.baseSequence - e.lastAckedSequence === 1;
      if (e.unresolvedNext < 0 && (b.sequenceHasBeenReset || !isNext)) {
        // An earlier batch is not through yet (it failed or is being retried): this one follows it.
        return true;
      }
      // A real gap, or the batch right after an unresolved one: bump. Otherwise wait and see.
      if (e.unresolvedNext < 0 || b.baseSequence === e.unresolvedNext) this.requestEpochBumpForPartition(b.tp.id);
      return true;
    }
    return retriable;
  }

  /**
   * A batch with a sequence failed for good. `adjustSequences` is false when the broker may
   * have written it (retries exhausted, delivery timeout): then the partition is unresolved.
   */
  handleFailed(b: BatchEntry, errorCode: number, adjustSequences: boolean): void {
    this.removeInflight(b);
    if (b.baseSequence < 0) return;
    if (errorCode === OUT_OF_ORDER_SEQUENCE_NUMBER || errorCode === UNKNOWN_PRODUCER_ID || adjustSequences) {
      this.requestEpochBumpForPartition(b.tp.id);
    } else {
      this.markSequenceUnresolved(b);
    }
  }

  markSequenceUnresolved(b: BatchEntry): void {
    const e = this.entry(b.tp.id);
    const next = incrementSequence(b.baseSequence, b.records.length);
    e.unresolvedNext = Math.max(e.unresolvedNext, next);
  }

  /** Run before each drain: settle unresolved partitions and bump the epoch when asked to. */
  maybeResolveAndBump(): void {
    for (const [tpId, e] of this.partitions) {
      if (e.unresolvedNext < 0 || e.inflight.length > 0) continue;
      // Every earlier batch has finished: was the last one written after all?
      if (e.nextSequence - e.lastAckedSequence !== 1) this.requestEpochBumpForPartition(tpId);
      e.unresolvedNext = -1;
    }
    if (this.epochBumpRequired && this.hasProducerId()) {
      if (this.transactionalId === null) {
        this.bumpEpoch();
      } else {
        // Only the coordinator hands out epochs to a transactional producer: abort, then bump.
        this.epochBumpRequired = false;
        this.partitionsToRewrite.clear();
        this.txnEpochBumpRequired = true;
        this.abortable(new KafkaJSNonRetriableError('A batch of the transaction failed after it was sent: its sequence numbers can no longer be trusted', { code: 'TRANSACTION_SEQUENCE_LOST' }));
      }
    }
  }

  private requestEpochBumpForPartition(tpId: number): void {
    this.epochBumpRequired = true;
    this.partitionsToRewrite.add(tpId);
  }

  private bumpEpoch(): void {
    if (this.producerEpoch >= 0x7fff) {
      // The epoch is exhausted: a new producer id (InitProducerId) starts every partition at 0.
      this.resetProducerId();
      return;
    }
    this.producerEpoch++;
    for (const tpId of this.partitionsToRewrite) {
      const e = this.entry(tpId);
      this.startSequencesAtBeginning(e);
      e.unresolvedNext = -1;
    }
    this.partitionsToRewrite.clear();
    this.epochBumpRequired = false;
  }

  /** Move a partition to the current id and epoch: its unfinished batches get sequences from 0
   * (re-stamped before they are sent again), new batches follow them. */
  private startSequencesAtBeginning(e: PartitionSequences): void {
    let seq = 0;
    for (const b of e.inflight) {
      b.producerId = this.producerId;
      b.producerEpoch = this.producerEpoch;
      b.baseSequence = seq;
      b.sequenceHasBeenReset = true;
      b.restamp = true;
      seq = incrementSequence(seq, b.records.length);
    }
    e.producerId = this.producerId;
    e.producerEpoch = this.producerEpoch;
    e.nextSequence = seq;
    e.lastAckedSequence = -1;
  }
  // ---- the transactional half ------------------------------------------------------------

  /** transactional.id, or null for an idempotent producer without transactions. */
  readonly transactionalId: string | null;
  private readonly transactionTimeoutMs: number;
  state: TxnState = 'UNINITIALIZED';
  /** The error behind ABORTABLE_ERROR or FATAL_ERROR. */
  lastError: Error | null = null;
  /** Transactions V2 (KIP-890): the cluster has transaction.version >= 2 and the coordinator
   * speaks EndTxn v5. Decided at initTransactions and at each beginTransaction, as Java does. */
  v2 = false;
  /** Partitions the coordinator knows are in the open transaction (by TopicPartition id):
   * only these may be drained (Java: isSendToPartitionAllowed). */
  private readonly inTransaction = new Set<number>();
  /** V1: partitions appended to since the last AddPartitionsToTxn, and those in the one in flight. */
  private readonly newPartitions = new Map<number, TopicPartition>();
  private readonly pendingPartitions = new Map<number, TopicPartition>();
  /** Anything was added to the transaction (partitions or offsets): without it, commit and
   * abort need no EndTxn. */
  private transactionStarted = false;
  /** V1: the abort must also bump the epoch (InitProducerId with the current id and epoch,
   * KIP-360), because a batch with a sequence failed or was dropped and the broker's sequences
   * can no longer be trusted. V2 coordinators bump the epoch at every EndTxn. */
  private txnEpochBumpRequired = false;
  private ctx: TxnContext | null = null;
  private txnCoordinator: Broker | null = null;
  private readonly groupCoordinators = new Map<string, Broker>();
  /** The public operation under way (Java's pendingResult): a call that timed out may be made
   * again and then waits for the same outcome; another operation meanwhile is refused. */
  private pendingOp: { name: string; promise: Promise<void> } | null = null;
  private readonly sleeps = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  private closed = false;

  /** The producer's parts the transactional half needs (set by ProducerCore). */
  attach(ctx: TxnContext): void {
    this.ctx = ctx;
  }

  get isTransactional(): boolean {
    return this.transactionalId !== null;
  }

  hasFatalError(): boolean {
    return this.state === 'FATAL_ERROR';
  }

  hasAbortableError(): boolean {
    return this.state === 'ABORTABLE_ERROR';
  }

  isAborting(): boolean {
    return this.state === 'ABORTING_TRANSACTION';
  }

  /** Whether the sender may drain for this partition: it is in the transaction, and the
   * transaction is open or committing. */
  private sendToPartitionAllowed(tpId: number): boolean {
    return (this.state === 'IN_TRANSACTION' || this.state === 'COMMITTING_TRANSACTION') && this.inTransaction.has(tpId);
  }

  /** Why a send is refused now, or null (ProducerCore asks before taking a record). */
  sendRefusal(): Error | null {
    if (this.state === 'IN_TRANSACTION') return null;
    if (this.state === 'FATAL_ERROR') return this.lastError;
    if (this.state === 'ABORTABLE_ERROR') return this.abortableRefusal('send');
    return new IllegalTransactionStateError(
      `Cannot send in state ${this.state}: a transactional producer sends only inside a transaction (initTransactions(), then beginTransaction())`,
    );
  }

  private abortableRefusal(what: string): Error {
    return new IllegalTransactionStateError(
      `Cannot ${what}: an earlier error left the transaction in a state where only abortTransaction() is allowed (${this.lastError?.message})`,
      this.lastError,
    );
  }

  /** A record was appended to `tp` in the open transaction (Java: maybeAddPartition). */
  maybeAddPartition(tp: TopicPartition): void {
    if (this.state !== 'IN_TRANSACTION' && this.state !== 'COMMITTING_TRANSACTION') return;
    if (this.inTransaction.has(tp.id) || this.pendingPartitions.has(tp.id) || this.newPartitions.has(tp.id)) return;
    if (this.v2) {
      // The Produce request (v12) adds the partition to the transaction on the broker.
      this.inTransaction.add(tp.id);
      this.transactionStarted = true;
    } else {
      this.newPartitions.set(tp.id, tp);
    }
  }

  /**
   * Run by the sender before it drains (the "hook before drain"): fail what may not go out
   * (fatal error, abortable error, aborting) and, with transactions V1, send one
   * AddPartitionsToTxn for every partition that became new since the last one.
   * Returns false when nothing may be drained now.
   */
  beforeDrain(abortUndrained: (err: Error) => void): boolean {
    if (this.state === 'FATAL_ERROR') {
      abortUndrained(this.lastError!);
      return false;
    }
    if (this.state === 'ABORTABLE_ERROR' || this.state === 'ABORTING_TRANSACTION') {
      abortUndrained(this.lastError ?? new TransactionAbortedError());
      return false;
    }
    if (this.newPartitions.size > 0 && this.pendingPartitions.size === 0) this.addPartitions();
    return true;
  }

  /** A batch failed for good (Java: TransactionManager.handleFailedBatch). */
  batchFailed(b: BatchEntry, err: Error): void {
    if (this.transactionalId === null) return;
    if (this.state === 'ABORTING_TRANSACTION' || this.state === 'ABORTABLE_ERROR') {
      // Dropped or failed with a sequence: the broker's view of this partition is unknown.
      if (b.baseSequence >= 0) this.txnEpochBumpRequired = true;
      if (this.state === 'ABORTABLE_ERROR' || err instanceof TransactionAbortedError) return;
    }
    if (isFatalTxnError(err)) {
      this.fatal(err);
      return;
    }
    if (b.baseSequence >= 0) this.txnEpochBumpRequired = true;
    this.abortable(err);
  }

  private fatal(err: Error): void {
    if (this.state === 'FATAL_ERROR') return;
    this.lastError = err;
    this.state = 'FATAL_ERROR';
    this.ctx?.wakeup();
  }

  /** Java's transitionToAbortableError: ignored while aborting (the abort goes on). */
  private abortable(err: Error): void {
    if (this.state === 'ABORTING_TRANSACTION' || this.state === 'FATAL_ERROR') return;
    if (this.state === 'ABORTABLE_ERROR') return;
    if (this.state !== 'IN_TRANSACTION' && this.state !== 'COMMITTING_TRANSACTION' && this.state !== 'INITIALIZING') {
      this.fatal(err);
      return;
    }
    this.lastError = err;
    this.state = 'ABORTABLE_ERROR';
    this.ctx?.wakeup();
  }

  private ensureTransactional(what: string): void {
    if (this.transactionalId === null) {
      throw new IllegalTransactionStateError(`Cannot use ${what}() without a transactional.id (the producer is not transactional)`);
    }
  }

  /** Java's maybeFailWithError: a fatal error fails every call with itself, an abortable one
   * every call but abortTransaction(). */
  private maybeFailWithError(what: string): void {
    if (this.state === 'FATAL_ERROR') throw this.lastError!;
    if (this.state === 'ABORTABLE_ERROR') throw this.abortableRefusal(`call ${what}()`);
  }

  private transitionTo(target: TxnState, what: string): void {
    if (!VALID_SOURCES[target].includes(this.state)) {
      throw new IllegalTransactionStateError(`Cannot call ${what}() in state ${this.state} (${describeState(this.state)})`);
    }
    this.state = target;
  }

  /**
   * Runs a public operation. Its promise is raced with max.block.ms (Java blocks that long and
   * throws a TimeoutException); a timed-out operation goes on, and calling the same method
   * again waits for it, while any other transactional call is refused until it is done.
   */
  private runOp(name: string, start: () => Promise<void>): Promise<void> {
    let promise: Promise<void>;
    if (this.pendingOp !== null) {
      if (this.pendingOp.name !== name) {
        return Promise.reject(
          new IllegalTransactionStateError(`Cannot call ${name}() while ${this.pendingOp.name}() is still in progress (call it again to wait for it)`),
        );
      }
      promise = this.pendingOp.promise;
    } else {
      try {
        promise = start();
      } catch (err) {
        return Promise.reject(err);
      }
      const op = { name, promise };
      this.pendingOp = op;
      const clear = () => {
        if (this.pendingOp === op) this.pendingOp = null;
      };
      promise.then(clear, clear);
    }
    const limit = this.ctx?.config.maxBlockMs ?? Infinity;
    // Beyond a 32-bit delay setTimeout would fire at once: such a bound means "wait".
    if (!(limit <= 0x7fffffff)) return promise;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new KafkaJSTimeout(`${name}() did not complete within max.block.ms (${limit} ms); call it again to keep waiting`, { code: 'TRANSACTION_TIMEOUT' })),
        limit,
      );
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  initTransactions(): Promise<void> {
    return this.runOp('initTransactions', () => {
      this.ensureTransactional('initTransactions');
      this.maybeFailWithError('initTransactions');
      this.transitionTo('INITIALIZING', 'initTransactions');
      return this.guard(async () => {
        await this.initProducerIdTxn(-1n, -1);
        this.state = 'READY';
      });
    });
  }

  /** Synchronous, as in Java: only local state changes. */
  beginTransaction(): void {
    this.ensureTransactional('beginTransaction');
    if (this.pendingOp !== null) {
      throw new IllegalTransactionStateError(`Cannot call beginTransaction() while ${this.pendingOp.name}() is still in progress`);
    }
    this.maybeFailWithError('beginTransaction');
    this.transitionTo('IN_TRANSACTION', 'beginTransaction');
    this.transactionStarted = false;
    this.inTransaction.clear();
    this.updateV2();
  }

  sendOffsetsToTransaction(offsets: readonly TxnOffset[], group: TxnGroupMetadata): Promise<void> {
    return this.runOp('sendOffsetsToTransaction', () => {
      this.ensureTransactional('sendOffsetsToTransaction');
      this.maybeFailWithError('sendOffsetsToTransaction');
      if (this.state !== 'IN_TRANSACTION') {
        throw new IllegalTransactionStateError(`Cannot send offsets when no transaction is in progress (state ${this.state})`);
      }
      return this.guard(async () => {
        if (!this.v2) {
          // V1: the coordinator first adds the group's offsets partition to the transaction.
          await this.coordinatorRequest(CoordinatorType.Transaction, this.transactionalId!, AddOffsetsToTxn, () => ({
            transactionalId: this.transactionalId!,
            producerId: this.producerId,
            producerEpoch: this.producerEpoch,
            groupId: group.groupId,
          }), (res) => [res.errorCode]);
        }
        this.transactionStarted = true;
        const byTopic = new Map<string, TxnOffset[]>();
        for (const o of offsets) {
          const list = byTopic.get(o.topic) ?? [];
          list.push(o);
          byTopic.set(o.topic, list);
        }
        await this.coordinatorRequest(CoordinatorType.Group, group.groupId, TxnOffsetCommit, () => ({
          transactionalId: this.transactionalId!,
          groupId: group.groupId,
          producerId: this.producerId,
          producerEpoch: this.producerEpoch,
          generationId: group.generationId ?? -1,
          memberId: group.memberId ?? '',
          groupInstanceId: group.groupInstanceId ?? null,
          topics: [...byTopic].map(([name, list]) => ({
            name,
            partitions: list.map((o) => ({
              partitionIndex: o.partition,
              committedOffset: o.offset,
              committedLeaderEpoch: o.leaderEpoch ?? -1,
              committedMetadata: o.metadata ?? null,
            })),
          })),
        }), (res) => res.topics.flatMap((t) => t.partitions.map((p) => p.errorCode)), this.v2 ? 5 : 4);
      });
    });
  }

  commitTransaction(): Promise<void> {
    return this.runOp('commitTransaction', () => {
      this.ensureTransactional('commitTransaction');
      this.maybeFailWithError('commitTransaction');
      this.transitionTo('COMMITTING_TRANSACTION', 'commitTransaction');
      return this.guard(async () => {
        // Everything sent in the transaction must be acknowledged before the commit (Java
        // flushes in commitTransaction).
        await this.ctx!.flush();
        if (this.state !== 'COMMITTING_TRANSACTION') {
          // A batch failed meanwhile: the transaction can only be aborted now.
          throw this.state === 'FATAL_ERROR' ? this.lastError! : this.abortableRefusal('commit');
        }
        if (this.transactionStarted) await this.endTxn(true);
        this.completeTransaction();
      });
    });
  }

  abortTransaction(): Promise<void> {
    return this.runOp('abortTransaction', () => {
      this.ensureTransactional('abortTransaction');
      if (this.state === 'FATAL_ERROR') throw this.lastError!;
      this.transitionTo('ABORTING_TRANSACTION', 'abortTransaction');
      this.newPartitions.clear();
      return this.guard(async () => {
        // What was not sent yet is dropped (Java: abortUndrainedBatches); what is on the wire
        // is waited for, so that no batch of this transaction arrives after its abort marker.
        this.ctx!.abortUndrained(new TransactionAbortedError());
        await this.ctx!.flush();
        const skipEndTxn = this.lastError instanceof KafkaJSProtocolError && this.lastError.type === 'INVALID_PRODUCER_ID_MAPPING';
        if (this.transactionStarted && !skipEndTxn) await this.endTxn(false);
        if (!this.v2 && (this.txnEpochBumpRequired || skipEndTxn)) {
          // KIP-360 for transactional producers: a new epoch starts every partition at sequence 0.
          await this.initProducerIdTxn(this.producerId, this.producerEpoch);
        }
        this.completeTransaction();
      });
    });
  }

  /** Rejects with the error after recording it as fatal or abortable (an operation's failure). */
  private async guard(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      const e = err as Error;
      if (this.closed || e instanceof ProducerClosedError || e instanceof IllegalTransactionStateError) throw e;
      if (this.state === 'FATAL_ERROR' || this.state === 'ABORTABLE_ERROR') throw e;
      if (isFatalTxnError(e) || this.state === 'INITIALIZING' || this.state === 'ABORTING_TRANSACTION') this.fatal(e);
      else this.abortable(e);
      throw e;
    }
  }

  private completeTransaction(): void {
    this.state = 'READY';
    this.lastError = null;
    this.transactionStarted = false;
    this.txnEpochBumpRequired = false;
    this.inTransaction.clear();
    this.newPartitions.clear();
    this.pendingPartitions.clear();
    // Every batch of the transaction has finished; those dropped by an abort leave nothing
    // the sequences should wait for (a new epoch, if any, starts them at 0).
    for (const e of this.partitions.values()) {
      e.inflight.length = 0;
      e.unresolvedNext = -1;
    }
    this.epochBumpRequired = false;
    this.partitionsToRewrite.clear();
  }

  private updateV2(): void {
    const b = this.txnCoordinator;
    if (!b) return;
    const level = b.finalizedFeatures.get('transaction.version') ?? 0;
    let endTxnV5 = false;
    let produceV12 = false;
    try {
      endTxnV5 = b.version(EndTxn) >= 5;
      produceV12 = b.version({ apiKey: ApiKey.Produce, minVersion: 3, maxVersion: 12 }) >= 12;
    } catch {
      // The broker does not list one of them: V1.
    }
    this.v2 = level >= 2 && endTxnV5 && produceV12;
  }

  /** The Produce codec to use: with V2 up to v12, which tells the broker to add partitions itself. */
  produceDescriptor(): typeof Produce {
    return this.transactionalId !== null && this.v2 ? ProduceTxnV2 : Produce;
  }

  /** InitProducerId through the transaction coordinator: a new epoch (fencing older
   * instances and aborting their open transaction), or a bump of `producerId`/`epoch`. */
  private async initProducerIdTxn(producerId: bigint, epoch: number): Promise<void> {
    const res = await this.coordinatorRequest(CoordinatorType.Transaction, this.transactionalId!, InitProducerId, (v) => ({
      transactionalId: this.transactionalId!,
      transactionTimeoutMs: this.transactionTimeoutMs,
      producerId: v >= 3 ? producerId : -1n,
      producerEpoch: v >= 3 ? epoch : -1,
    }), (r) => [r.errorCode]);
    this.setProducerIdAndEpoch(res.producerId, res.producerEpoch);
    this.txnEpochBumpRequired = false;
    this.updateV2();
  }

  private async endTxn(committed: boolean): Promise<void> {
    const res = await this.coordinatorRequest(CoordinatorType.Transaction, this.transactionalId!, EndTxn, () => ({
      transactionalId: this.transactionalId!,
      producerId: this.producerId,
      producerEpoch: this.producerEpoch,
      committed,
    }), (r) => [r.errorCode], this.v2 ? 5 : 4);
    // V2: the coordinator bumped the epoch; the next transaction's batches start at sequence 0.
    if (res.producerId >= 0n && res.producerEpoch >= 0) this.setProducerIdAndEpoch(res.producerId, res.producerEpoch);
  }

  /** V1: one AddPartitionsToTxn for every new partition; the sender is woken when it is done. */
  private addPartitions(): void {
    for (const [id, tp] of this.newPartitions) this.pendingPartitions.set(id, tp);
    this.newPartitions.clear();
    const pending = [...this.pendingPartitions.values()];
    const byTopic = new Map<string, number[]>();
    for (const tp of pending) {
      const list = byTopic.get(tp.topic) ?? [];
      list.push(tp.partition);
      byTopic.set(tp.topic, list);
    }
    this.coordinatorRequest(CoordinatorType.Transaction, this.transactionalId!, AddPartitionsToTxn, () => ({
      transactionalId: this.transactionalId!,
      producerId: this.producerId,
      producerEpoch: this.producerEpoch,
      topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
    }), (r) => r.results.flatMap((t) => t.partitions.map((p) => p.errorCode)), undefined, !this.transactionStarted).then(
      () => {
        for (const tp of pending) {
          this.pendingPartitions.delete(tp.id);
          this.inTransaction.add(tp.id);
        }
        this.transactionStarted = true;
        this.ctx?.wakeup();
      },
      (err: Error) => {
        this.pendingPartitions.clear();
        if (!this.closed && !(err instanceof ProducerClosedError)) {
          if (isFatalTxnError(err)) this.fatal(err);
          else this.abortable(err);
        }
        this.ctx?.wakeup();
      },
    );
  }

  /**
   * One request to a coordinator (of the transactional id or of a group), found with
   * FindCoordinator and cached; retried until it succeeds or fails for good, as Java's
   * TxnRequestHandler: NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE (and a lost connection)
   * look the coordinator up again; COORDINATOR_LOAD_IN_PROGRESS, CONCURRENT_TRANSACTIONS and
   * the other retriable errors wait retry.backoff.ms (CONCURRENT_TRANSACTIONS on the first
   * AddPartitionsToTxn of a transaction only 20 ms: the previous EndTxn is usually just
   * finishing). Any other error rejects, as a KafkaJSProtocolError.
   */
  private async coordinatorRequest<Req, Res>(
    keyType: number,
    key: string,
    desc: ApiDescriptor<Req, Res>,
    build: (version: number) => Req,
    errorsOf: (res: Res) => number[],
    maxVersion?: number,
    shortConcurrentBackoff = false,
  ): Promise<Res> {
    const config = this.ctx!.config;
    for (let attempt = 0; ; attempt++) {
      this.checkOpen();
      const backoff = Math.min(config.retryBackoffMaxMs, config.retryBackoffMs * 2 ** Math.min(attempt, 20));
      let broker: Broker;
      try {
        broker = await this.coordinator(keyType, key);
        await broker.ensureReady();
      } catch (err) {
        this.checkOpen();
        if (!isRetriable(err)) throw err;
        this.forgetCoordinator(keyType, key);
        await this.sleep(backoff);
        continue;
      }
      this.checkOpen();
      const version = Math.min(broker.version(desc), maxVersion ?? desc.maxVersion);
      let res: Res;
      try {
        res = await broker.conn.request(desc.apiKey, version, version >= desc.flexibleFrom, desc.encode(version, build(version)), desc.decode);
      } catch (err) {
        this.checkOpen();
        if (!isRetriable(err)) throw err;
        this.forgetCoordinator(keyType, key);
        await this.sleep(backoff);
        continue;
      }
      this.checkOpen();
      const codes = errorsOf(res).filter((c) => c !== ErrorCode.NONE && c !== OPERATION_NOT_ATTEMPTED);
      if (codes.length === 0) return res;
      // The most telling error decides: fatal before abortable before retriable.
      const code = pickError(codes);
      if (code === ErrorCode.NOT_COORDINATOR || code === ErrorCode.COORDINATOR_NOT_AVAILABLE) {
        this.forgetCoordinator(keyType, key);
        await this.sleep(backoff);
        continue;
      }
      if (RETRIABLE_TXN.has(code)) {
        await this.sleep(code === ErrorCode.CONCURRENT_TRANSACTIONS && shortConcurrentBackoff ? Math.min(20, backoff) : backoff);
        continue;
      }
      throw new KafkaJSProtocolError(errorForCode(code));
    }
  }

  private forgetCoordinator(keyType: number, key: string): void {
    if (keyType === CoordinatorType.Transaction) this.txnCoordinator = null;
    else this.groupCoordinators.delete(key);
  }

  /** FindCoordinator to the least-loaded broker (retried the same way), then the broker itself
   * from the metadata (refreshed when it is not known yet). */
  private async coordinator(keyType: number, key: string): Promise<Broker> {
    const cached = keyType === CoordinatorType.Transaction ? this.txnCoordinator : this.groupCoordinators.get(key);
    if (cached && !cached.isClosed()) return cached;
    const cluster = this.ctx!.cluster;
    const via = cluster.leastLoadedBroker();
    if (!via) {
      await cluster.refresh();
      throw new KafkaJSError('No broker known yet to find the coordinator', { retriable: true });
    }
    await via.ensureReady();
    const version = via.version(FindCoordinator);
    const res = await via.conn.request(ApiKey.FindCoordinator, version, version >= FindCoordinator.flexibleFrom, FindCoordinator.encode(version, { key, keyType }), FindCoordinator.decode);
    if (res.errorCode !== ErrorCode.NONE) {
      const info = errorForCode(res.errorCode);
      // COORDINATOR_NOT_AVAILABLE is retriable; an authorization failure is not.
      throw new KafkaJSProtocolError(res.errorMessage ? { ...info, message: `${info.message}: ${res.errorMessage}` } : info);
    }
    let broker = cluster.broker(res.nodeId);
    if (!broker) {
      await cluster.refresh();
      broker = cluster.broker(res.nodeId);
    }
    if (!broker) throw new KafkaJSError(`The coordinator (node ${res.nodeId}) is not in the metadata yet`, { retriable: true });
    if (keyType === CoordinatorType.Transaction) this.txnCoordinator = broker;
    else this.groupCoordinators.set(key, broker);
    return broker;
  }

  private checkOpen(): void {
    if (this.closed) throw new ProducerClosedError('The producer was closed before the transactional request completed');
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.sleeps.delete(entry);
          resolve();
        }, ms),
        wake: resolve,
      };
      this.sleeps.add(entry);
    });
  }

  /** Whether close() should abort an open transaction first (Java's Sender does on shutdown). */
  hasOngoingTransaction(): boolean {
    return (
      this.transactionalId !== null &&
      (this.state === 'IN_TRANSACTION' || this.state === 'ABORTABLE_ERROR') &&
      (this.transactionStarted || this.newPartitions.size > 0 || this.pendingPartitions.size > 0)
    );
  }

  /** Stop for good: transactional calls in progress reject with ProducerClosedError. */
  close(): void {
    this.closed = true;
    for (const s of this.sleeps) {
      clearTimeout(s.timer);
      s.wake();
    }
    this.sleeps.clear();
  }

}

const { OUT_OF_ORDER_SEQUENCE_NUMBER, UNKNOWN_PRODUCER_ID } = ErrorCode;
/** The partitions of an AddPartitionsToTxn that the broker skipped because others failed. */
const OPERATION_NOT_ATTEMPTED = 55;

/**
 * The transaction state machine, as Java's TransactionManager.State. initTransactions()
 * (UNINITIALIZED → INITIALIZING → READY), beginTransaction() (READY → IN_TRANSACTION),
 * commitTransaction() (→ COMMITTING_TRANSACTION → READY), abortTransaction()
 * (IN_TRANSACTION or ABORTABLE_ERROR → ABORTING_TRANSACTION → READY).
 * ABORTABLE_ERROR: something in the transaction failed (a batch, AddPartitionsToTxn,
 * TxnOffsetCommit with e.g. a stale group generation); only abortTransaction() is allowed.
 * FATAL_ERROR: the producer was fenced (PRODUCER_FENCED, INVALID_PRODUCER_EPOCH) or is not
 * authorized (TRANSACTIONAL_ID_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED): every later
 * call fails with that error; only close() is left.
 */
export type TxnState =
  | 'UNINITIALIZED'
  | 'INITIALIZING'
  | 'READY'
  | 'IN_TRANSACTION'
  | 'COMMITTING_TRANSACTION'
  | 'ABORTING_TRANSACTION'
  | 'ABORTABLE_ERROR'
  | 'FATAL_ERROR';

/** For each state, the states it may be entered from (Java's isTransitionValid). */
const VALID_SOURCES: Record<TxnState, readonly TxnState[]> = {
  UNINITIALIZED: ['READY', 'ABORTABLE_ERROR'],
  INITIALIZING: ['UNINITIALIZED', 'ABORTING_TRANSACTION'],
  READY: ['INITIALIZING', 'COMMITTING_TRANSACTION', 'ABORTING_TRANSACTION'],
  IN_TRANSACTION: ['READY'],
  COMMITTING_TRANSACTION: ['IN_TRANSACTION'],
  ABORTING_TRANSACTION: ['IN_TRANSACTION', 'ABORTABLE_ERROR'],
  ABORTABLE_ERROR: ['IN_TRANSACTION', 'COMMITTING_TRANSACTION', 'ABORTABLE_ERROR', 'INITIALIZING'],
  FATAL_ERROR: ['UNINITIALIZED', 'INITIALIZING', 'READY', 'IN_TRANSACTION', 'COMMITTING_TRANSACTION', 'ABORTING_TRANSACTION', 'ABORTABLE_ERROR', 'FATAL_ERROR'],
};

function describeState(state: TxnState): string {
  switch (state) {
    case 'UNINITIALIZED':
      return 'call initTransactions() first';
    case 'READY':
      return 'no transaction is in progress';
    case 'IN_TRANSACTION':
      return 'a transaction is in progress';
    default:
      return 'another transactional operation is in progress';
  }
}

/** What the transactional half needs from the producer around it. */
export interface TxnContext {
  cluster: Cluster;
  config: ResolvedConfig;
  /** Wake the sender (new partitions added, an error to act on). */
  wakeup(): void;
  /** Resolves when every record accepted so far has settled (ProducerCore.flush). */
  flush(): Promise<void>;
  /** Fail every record not yet sent: waiting appends, undrained batches, retry queues. */
  abortUndrained(err: Error): void;
}

/** One consumed position to commit in a transaction (Java's TopicPartition + OffsetAndMetadata). */
export interface TxnOffset {
  topic: string;
  partition: number;
  /** The next offset to consume (last processed + 1), as in Java. */
  offset: bigint;
  leaderEpoch?: number;
  metadata?: string | null;
}

/** Java's ConsumerGroupMetadata: the group id, and the member's generation for fencing (KIP-447). */
export interface TxnGroupMetadata {
  groupId: string;
  generationId?: number;
  memberId?: string;
  groupInstanceId?: string | null;
}

/** A transactional method called in a state that does not allow it (Java's IllegalStateException). */
export class IllegalTransactionStateError extends KafkaJSNonRetriableError {
  override name = 'KafkaJSNonRetriableError';
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'INVALID_TXN_STATE', cause: cause ?? undefined });
  }
}

/** The records of an aborted transaction that were never sent (Java's TransactionAbortedException). */
export class TransactionAbortedError extends KafkaJSNonRetriableError {
  constructor() {
    super('The transaction was aborted before this record was sent', { code: 'TRANSACTION_ABORTED' });
  }
}

/** Errors after which a transactional producer can do nothing but close (Java's fatal errors). */
const FATAL_TXN = new Set([
  'PRODUCER_FENCED',
  'INVALID_PRODUCER_EPOCH',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'INVALID_TXN_STATE',
  'UNSUPPORTED_VERSION',
  'UNSUPPORTED_FOR_MESSAGE_FORMAT',
  'TRANSACTIONAL_ID_NOT_FOUND',
]);

export function isFatalTxnError(err: unknown): boolean {
  return err instanceof KafkaJSProtocolError && FATAL_TXN.has(err.type);
}

/** Coordinator errors retried after a backoff (NOT_COORDINATOR and COORDINATOR_NOT_AVAILABLE
 * also look the coordinator up again). */
const RETRIABLE_TXN = new Set<number>([
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  ErrorCode.CONCURRENT_TRANSACTIONS,
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.REQUEST_TIMED_OUT,
  ErrorCode.NOT_ENOUGH_REPLICAS,
  ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
]);

function pickError(codes: number[]): number {
  const fatal = codes.find((c) => FATAL_TXN.has(errorForCode(c).type));
  if (fatal !== undefined) return fatal;
  const abortable = codes.find((c) => !RETRIABLE_TXN.has(c) && c !== ErrorCode.NOT_COORDINATOR && c !== ErrorCode.COORDINATOR_NOT_AVAILABLE);
  return abortable ?? codes[0]!;
}

function isRetriable(err: unknown): boolean {
  return (err as { retriable?: boolean })?.retriable === true;
}
