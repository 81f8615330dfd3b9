/**
 * interceptor.classes: the Java producer's ProducerInterceptor, as objects.
 *
 *   onSend(record) → record      before serialization and partitioning, in the order given;
 *                                each sees the record the previous one returned
 *   onAcknowledgement(md, err)   once per record, when it is acknowledged (err null) or fails
 *                                (md then has offset -1; partition -1 if it was never chosen),
 *                                before the record's callback and promise
 *   close()                      when the producer closes
 *
 * User code never breaks the producer (Java's ProducerInterceptors): an exception from
 * onSend is logged and the record goes on as the previous interceptor left it; one from
 * onAcknowledgement or close is logged and the others still run. No record is lost to an
 * interceptor. An onSend that returns something other than a record object is treated as a
 * throw (logged, its answer ignored).
 */
import type { ProducerRecord, RecordMetadata } from './producer.js';

export interface ProducerInterceptor<K = unknown, V = unknown> {
  onSend?(record: ProducerRecord<K, V>): ProducerRecord<K, V>;
  onAcknowledgement?(metadata: RecordMetadata, error: Error | null): void;
  close?(): void;
}

export type ReportUserError = (err: unknown, what: string) => void;

export class ProducerInterceptors<K, V> {
  constructor(
    readonly list: readonly ProducerInterceptor<K, V>[],
    private readonly report: ReportUserError,
  ) {}

  onSend(record: ProducerRecord<K, V>): ProducerRecord<K, V> {
    let current = record;
    for (let i = 0; i < this.list.length; i++) {
      const it = this.list[i]!;
      if (typeof it.onSend !== 'function') continue;
      try {
        const next = it.onSend(current);
        if (next === null || typeof next !== 'object') throw new TypeError(`onSend returned ${next === null ? 'null' : typeof next}, not a record`);
        current = next;
      } catch (e) {
        this.report(e, `interceptor ${i} (onSend)`);
      }
    }
    return current;
  }

  onAcknowledgement(metadata: RecordMetadata, error: Error | null): void {
    for (let i = 0; i < this.list.length; i++) {
      const it = this.list[i]!;
      if (typeof it.onAcknowledgement !== 'function') continue;
      try {
        it.onAcknowledgement(metadata, error);
      } catch (e) {
        this.report(e, `interceptor ${i} (onAcknowledgement)`);
      }
    }
  }

  close(): void {
    for (let i = 0; i < this.list.length; i++) {
      const it = this.list[i]!;
      if (typeof it.close !== 'function') continue;
      try {
        it.close();
      } catch (e) {
        this.report(e, `interceptor ${i} (close)`);
      }
    }
  }
}

/** Checks interceptor.classes: an array of objects (or absent). */
export function checkInterceptors(raw: unknown, error: (msg: string) => Error): ProducerInterceptor[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw error('interceptor.classes must be an array of interceptor objects');
  raw.forEach((it, i) => {
    if (it === null || typeof it !== 'object') throw error(`interceptor.classes[${i}] must be an object with onSend, onAcknowledgement and/or close`);
    for (const m of ['onSend', 'onAcknowledgement', 'close'] as const) {
      const f = (it as Record<string, unknown>)[m];
      if (f !== undefined && typeof f !== 'function') throw error(`interceptor.classes[${i}].${m} must be a function`);
    }
  });
  return raw as ProducerInterceptor[];
}
