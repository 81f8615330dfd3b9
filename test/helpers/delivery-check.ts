/**
 * What a fault run delivered, checked against what an independent reader (kcat) finds in the
 * log. Why it exists: "no error was reported" says nothing about loss, duplicates or order;
 * the only honest measure is to number every record and read the partitions back.
 *
 * A DeliveryLedger hands out records whose values carry a per-partition sequence number
 * (`${partition}:${seq}`, seq counting from 0 in each partition, in send order), and keeps the
 * outcome of each send (acked with its RecordMetadata, failed with its error, or unsettled).
 * checkDelivery() compares that with the records read back:
 *
 * - lost: acked, but not in the log (the one thing acks=all must never allow);
 * - duplicated: extra copies in the log (each occurrence after the first counts once);
 * - reordered: a record whose first occurrence comes after a higher sequence of the same
 *   partition (a duplicate's later copy is counted as duplicated, not as reordered, so that
 *   "1 2 3 2 3" reads as 2 duplicates and 0 reorders, while "2 1" is 1 reorder);
 * - misplaced: acked with an offset (or partition) where the log holds another record;
 * - foreign: records in the log that this ledger never sent (or in a wrong partition);
 * - failedButWritten: failed sends that the log holds anyway (a timed-out request that the
 *   broker did write): allowed, and worth knowing.
 *
 * It also has the process-level half of "close() leaves nothing behind": activeResources()
 * before the producer exists and resourcesLeftSince() after close, counting what
 * process.getActiveResourcesInfo() lists (the handles and requests that keep the event loop,
 * hence the process, alive; unref'ed timers are not listed).
 */
import type { ConsumedRecord } from './kcat.js';

export interface RecordMetadataLike {
  partition: number;
  offset: number;
}

export interface SequencedRecord {
  partition: number;
  seq: number;
  value: string;
}

type Outcome =
  | { state: 'pending' }
  | { state: 'acked'; offset: number; partition: number }
  | { state: 'failed'; error: string };

export class DeliveryLedger {
  private readonly nextSeq: number[];
  /** Per partition, per seq. */
  private readonly outcomes: Outcome[][];
  private ackedCount = 0;
  private failedCount = 0;
  private sentCount = 0;
  private readonly ackWaiters: { count: number; resolve: () => void }[] = [];
  private readonly settleWaiters: (() => void)[] = [];

  constructor(readonly partitions: number) {
    this.nextSeq = Array.from({ length: partitions }, () => 0);
    this.outcomes = Array.from({ length: partitions }, () => []);
  }

  /** The next record of `partition`: its value carries the partition and its sequence. */
  next(partition: number): SequencedRecord {
    const seq = this.nextSeq[partition]!++;
    this.outcomes[partition]!.push({ state: 'pending' });
    this.sentCount++;
    return { partition, seq, value: `${partition}:${seq}` };
  }

  /** Ties a send's promise to its record; never rejects. */
  track(rec: SequencedRecord, sent: Promise<RecordMetadataLike>): Promise<void> {
    return sent.then(
      (md) => {
        this.outcomes[rec.partition]![rec.seq] = { state: 'acked', offset: md.offset, partition: md.partition };
        this.ackedCount++;
        this.settledOne();
        for (let i = this.ackWaiters.length - 1; i >= 0; i--) {
          const w = this.ackWaiters[i]!;
          if (this.ackedCount >= w.count) {
            this.ackWaiters.splice(i, 1);
            w.resolve();
          }
        }
      },
      (err: unknown) => {
        const e = err as Error & { type?: string; cause?: { name?: string; type?: string } };
        const cause = e?.cause?.type ?? e?.cause?.name;
        this.outcomes[rec.partition]![rec.seq] = {
          state: 'failed',
          error: `${e?.name ?? typeof err}${e?.type ? `(${e.type})` : ''}${cause ? ` cause ${cause}` : ''}`,
        };
        this.failedCount++;
        this.settledOne();
      },
    );
  }

  private settledOne(): void {
    if (this.pending === 0) for (const w of this.settleWaiters.splice(0)) w();
  }

  get sent(): number {
    return this.sentCount;
  }
  get acked(): number {
    return this.ackedCount;
  }
  get failed(): number {
    return this.failedCount;
  }
  /** Sent, neither acked nor failed yet. */
  get pending(): number {
    return this.sentCount - this.ackedCount - this.failedCount;
  }

  /** Resolves once `count` records in all are acked (rejects after timeoutMs: a stuck run). */
  waitForAcks(count: number, timeoutMs: number, what = `${count} acks`): Promise<void> {
    if (this.ackedCount >= count) return Promise.resolve();
    return this.withTimeout(
      new Promise<void>((resolve) => this.ackWaiters.push({ count, resolve })),
      timeoutMs,
      () => `waited ${timeoutMs} ms for ${what}: ${this.summary()}`,
    );
  }

  /** Resolves once nothing is pending (rejects after timeoutMs: an unsettled promise). */
  waitForSettled(timeoutMs: number): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return this.withTimeout(
      new Promise<void>((resolve) => this.settleWaiters.push(resolve)),
      timeoutMs,
      () => `${this.pending} sends still unsettled after ${timeoutMs} ms: ${this.summary()}`,
    );
  }

  summary(): string {
    return `sent ${this.sentCount}, acked ${this.ackedCount}, failed ${this.failedCount}, pending ${this.pending}`;
  }

  private withTimeout(p: Promise<void>, timeoutMs: number, message: () => string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message())), timeoutMs);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }

  /** For checkDelivery. */
  outcomesOf(partition: number): readonly Outcome[] {
    return this.outcomes[partition]!;
  }
}

export interface DeliveryReport {
  sent: number;
  acked: number;
  failed: number;
  /** Error name (with protocol error type and cause when there is one) -> count. */
  failedBy: Record<string, number>;
  unsettled: number;
  /** Records read back (all copies). */
  inLog: number;
  lost: number;
  duplicated: number;
  reordered: number;
  misplaced: number;
  foreign: number;
  failedButWritten: number;
  /** A few examples of each problem, for the failure message. */
  samples: { lost: string[]; duplicated: string[]; reordered: string[]; misplaced: string[]; foreign: string[] };
}

const SAMPLES = 5;
const VALUE = /^(\d+):(\d+)$/;

/** Compares a ledger with every record of its topic, as readTopic() returns them. */
export function checkDelivery(ledger: DeliveryLedger, log: readonly ConsumedRecord[]): DeliveryReport {
  const r: DeliveryReport = {
    sent: ledger.sent,
    acked: ledger.acked,
    failed: ledger.failed,
    failedBy: {},
    unsettled: ledger.pending,
    inLog: log.length,
    lost: 0,
    duplicated: 0,
    reordered: 0,
    misplaced: 0,
    foreign: 0,
    failedButWritten: 0,
    samples: { lost: [], duplicated: [], reordered: [], misplaced: [], foreign: [] },
  };
  const note = (kind: keyof DeliveryReport['samples'], s: string) => {
    if (r.samples[kind].length < SAMPLES) r.samples[kind].push(s);
  };
  // partition -> offset -> seq, and partition -> seq -> copies
  const byOffset: Map<number, number>[] = Array.from({ length: ledger.partitions }, () => new Map());
  const copies: Map<number, number>[] = Array.from({ length: ledger.partitions }, () => new Map());
  const maxSeen: number[] = Array.from({ length: ledger.partitions }, () => -1);

  const sorted = [...log].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  for (const rec of sorted) {
    const text = rec.value === null ? null : rec.value.toString('utf8');
    const m = text === null ? null : VALUE.exec(text);
    const p = m ? Number(m[1]) : -1;
    const seq = m ? Number(m[2]) : -1;
    if (!m || p !== rec.partition || p >= ledger.partitions || seq >= ledger.outcomesOf(p).length) {
      r.foreign++;
      note('foreign', `p${rec.partition}@${rec.offset}=${JSON.stringify(text)}`);
      continue;
    }
    byOffset[p]!.set(rec.offset, seq);
    const n = (copies[p]!.get(seq) ?? 0) + 1;
    copies[p]!.set(seq, n);
    if (n > 1) {
      r.duplicated++;
      note('duplicated', `${text} again at offset ${rec.offset}`);
      continue;
    }
    if (seq < maxSeen[p]!) {
      r.reordered++;
      note('reordered', `${text} at offset ${rec.offset} after ${p}:${maxSeen[p]}`);
    } else {
      maxSeen[p] = seq;
    }
  }

  for (let p = 0; p < ledger.partitions; p++) {
    const outcomes = ledger.outcomesOf(p);
    for (let seq = 0; seq < outcomes.length; seq++) {
      const o = outcomes[seq]!;
      const written = copies[p]!.has(seq);
      if (o.state === 'acked') {
        if (!written) {
          r.lost++;
          note('lost', `${p}:${seq} (acked at offset ${o.offset})`);
        } else if (o.partition !== p || byOffset[p]!.get(o.offset) !== seq) {
          r.misplaced++;
          const there = byOffset[p]!.get(o.offset);
          const holds = there === undefined ? 'nothing' : `${p}:${there}`;
          note('misplaced', `${p}:${seq} acked at p${o.partition}@${o.offset}, which holds ${holds}`);
        }
      } else if (o.state === 'failed') {
        r.failedBy[o.error] = (r.failedBy[o.error] ?? 0) + 1;
        if (written) r.failedButWritten++;
      }
    }
  }
  return r;
}

/** One line per run, for t.diagnostic() and the report. */
export function formatReport(label: string, r: DeliveryReport): string {
  const failedBy = Object.entries(r.failedBy)
    .map(([k, v]) => `${k} x${v}`)
    .join(', ');
  const lines = [
    `${label}: sent ${r.sent}, acked ${r.acked}, failed ${r.failed}${failedBy ? ` [${failedBy}]` : ''}, unsettled ${r.unsettled}; ` +
      `in log ${r.inLog}: lost ${r.lost}, duplicated ${r.duplicated}, reordered ${r.reordered}, misplaced ${r.misplaced}, ` +
      `foreign ${r.foreign}, failed but written ${r.failedButWritten}`,
  ];
  for (const [kind, list] of Object.entries(r.samples)) {
    if (list.length) lines.push(`  ${kind}: ${list.join('; ')}`);
  }
  return lines.join('\n');
}

/** Resource type -> count, from process.getActiveResourcesInfo(). */
export type ResourceCounts = Record<string, number>;

export function activeResources(): ResourceCounts {
  const counts: ResourceCounts = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

/**
 * What keeps the process alive now that did not before: the types whose count grew since
 * `before` (e.g. { TCPSocketWrap: 2, Timeout: 1 }). Empty when close() left nothing behind.
 * Waits a turn of the event loop first, so a socket that close() destroyed has gone.
 */
export async function resourcesLeftSince(before: ResourceCounts): Promise<ResourceCounts> {
  await new Promise((r) => setImmediate(r));
  const now = activeResources();
  const grown: ResourceCounts = {};
  for (const [type, n] of Object.entries(now)) {
    const extra = n - (before[type] ?? 0);
    if (extra > 0) grown[type] = extra;
  }
  return grown;
}
