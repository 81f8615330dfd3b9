/**
 * Records on their way through the producer, as JavaScript sees them. After append() the
 * record's bytes live behind the Backend; JavaScript keeps only a PendingRecord: where to
 * report the outcome (its sink) and the few fields RecordMetadata needs.
 */
import { Buffer } from 'node:buffer';
import type { RecordHeaderInput } from '../backend/types.js';
import { ConfigError } from '../errors.js';

/** Where the outcome of a record goes: a per-record promise (Java-style send) or a per-call
 * aggregate (KafkaJS send/sendBatch). Called once per record. */
export interface RecordSink {
  ok(rec: PendingRecord, offset: number, logAppendTime: number, logStartOffset: number): void;
  fail(rec: PendingRecord, err: Error): void;
}

/**
 * A record as the sender settles it: one per record, except that a sink collecting a call's
 * records (the KafkaJS facade's CallSink) may give all of that call's records in one
 * partition the same PendingRecord, told once per record; its sizes are then -1. Nothing
 * below the sink reads more than these fields (the metrics read the sizes), so a sink that is
 * its own record (both APIs' one-record sends) keeps whatever else it needs itself: these
 * objects live until the broker answers, and each field is scavenged with them.
 */
export class PendingRecord {
  /** Filled in when the record is appended. */
  partition = -1;
  constructor(
    /** Not readonly: a record that is its own sink (the Java-style API) sets it to itself. */
    public sink: RecordSink,
    readonly topic: string,
    readonly keySize: number,
    readonly valueSize: number,
  ) {}
}

/** A rejected promise that a record's resolve adopts (the Java-style API's capture in producer.ts), marked handled: the
 * record's own promise carries the rejection to whoever awaits it (or reports it unhandled). */
export function rejection(err: Error): Promise<never> {
  const p = Promise.reject(err);
  p.catch(() => undefined);
  return p;
}

export type HeaderValue = string | Buffer | Uint8Array | null | undefined;
/** Headers as KafkaJS takes them ({key: value | value[]}) or as a list of pairs/objects. */
export type HeadersInput =
  | Record<string, HeaderValue | HeaderValue[]>
  | ReadonlyArray<{ key: string; value: HeaderValue } | readonly [string, HeaderValue]>;

export function toBytes(v: unknown, what: string): Buffer | null {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) return v;
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  throw new ConfigError(`${what} must be a Buffer, a string or null, not ${typeof v}`);
}

export function toHeaders(h: HeadersInput | null | undefined): RecordHeaderInput[] | null {
  if (h === null || h === undefined) return null;
  const out: RecordHeaderInput[] = [];
  if (Array.isArray(h)) {
    for (const e of h as ReadonlyArray<{ key: string; value: HeaderValue } | readonly [string, HeaderValue]>) {
      const [key, value] = Array.isArray(e) ? (e as readonly [string, HeaderValue]) : [(e as { key: string }).key, (e as { value: HeaderValue }).value];
      if (typeof key !== 'string') throw new ConfigError('A header key must be a string');
      out.push({ key, value: toBytes(value, `Header ${JSON.stringify(key)}`) });
    }
  } else if (typeof h === 'object') {
    for (const key of Object.keys(h)) {
      const v = (h as Record<string, HeaderValue | HeaderValue[]>)[key];
      if (v === undefined) continue;
      if (Array.isArray(v)) for (const one of v) out.push({ key, value: toBytes(one, `Header ${JSON.stringify(key)}`) });
      else out.push({ key, value: toBytes(v, `Header ${JSON.stringify(key)}`) });
    }
  } else {
    throw new ConfigError('headers must be an object or an array of {key, value}');
  }
  return out.length > 0 ? out : null;
}

/** Timestamps may come as numbers, numeric strings (KafkaJS), bigints or Dates. */
export function toTimestamp(t: unknown, now: number): number {
  if (t === undefined || t === null) return now;
  const n = typeof t === 'number' ? t : t instanceof Date ? t.getTime() : typeof t === 'bigint' ? Number(t) : Number(t);
  if (!Number.isFinite(n) || !Number.isInteger(n) || n < 0) {
    throw new ConfigError(`Invalid timestamp ${JSON.stringify(String(t))}: expected milliseconds since the epoch`);
  }
  return n;
}
