/**
 * The idempotent producer's state, after the Java client's TransactionManager (its
 * idempotence half; transactions will build on the same id, epoch and sequences): the
 * producer id and epoch from InitProducerId, and per partition the next sequence to stamp,
 * the batches that carry sequences and are not finished yet (in sequence order), and the last
 * sequence the broker acknowledged.
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
import { ErrorCode } from '../protocol/error-codes.js';
import type { BatchEntry } from './sender.js';

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

  hasProducerId(): boolean {
    return this.producerId >= 0n;
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
    if (this.epochBumpRequired && this.hasProducerId()) this.bumpEpoch();
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
}

const { OUT_OF_ORDER_SEQUENCE_NUMBER, UNKNOWN_PRODUCER_ID } = ErrorCode;
