/**
 * `kafka-turbo produce`: records from standard input, one per line (with --key-separator the
 * text before its first occurrence is the key, as kafka-console-producer's
 * parse.key/key.separator), or from a file of JSON records (--file), with the same headers on
 * every record (--header k=v, repeatable).
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Producer, type ProducerRecord } from '../producer/producer.js';
import type { ProducerConfig } from '../producer/options.js';
import { UsageError } from './args.js';
import { Stats } from './report.js';
import { SendWindow, settledUnlessAborted } from './send-window.js';
import type { Metric } from '../metrics/producer-metrics.js';

export interface ProduceOptions {
  config: ProducerConfig;
  topic: string;
  /** Lines from this stream when `records` is not given. */
  input: NodeJS.ReadableStream;
  /** The records of a --file (readJsonRecords), checked before anything starts. */
  records?: FileRecord[];
  keySeparator?: string;
  headers: [string, string][];
  window: number;
  signal?: AbortSignal;
  onStart?: (stats: Stats, inFlight: () => number) => void;
  warn?: (line: string) => void;
}

export interface ProduceResult {
  stats: Stats;
  seconds: number;
  cpu: NodeJS.CpuUsage;
  producer: Producer;
  metrics: Metric[];
  interrupted: boolean;
}

export type FileRecord = Omit<ProducerRecord, 'topic'>;

/** Reads and checks a --file whole: a bad record sends nothing (and starts no broker). */
export function readJsonRecords(file: string): FileRecord[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`kafka-turbo produce: --file ${file}: ${(e as Error).message}`);
  }
  return parseJsonRecords(text, file);
}

/** A JSON value as record bytes: strings as they are (UTF-8), null as null, anything else as its JSON text. */
function jsonBytes(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/**
 * The records of a --file: a JSON array of records, or one record per line (JSON Lines; blank
 * lines skipped). A record: { "value": ..., "key"?: ..., "headers"?: { "k": "v" } or
 * [{ "key": "k", "value": "v" }], "partition"?: n, "timestamp"?: ms }. A bad record is an
 * error naming its line (or index), before anything is sent.
 */
export function parseJsonRecords(text: string, file: string): FileRecord[] {
  const trimmed = text.trimStart();
  const items: { where: string; value: unknown }[] = [];
  if (trimmed.startsWith('[')) {
    let arr: unknown;
    try {
      arr = JSON.parse(text);
    } catch (e) {
      throw new UsageError(`kafka-turbo produce: --file ${file}: not valid JSON: ${(e as Error).message}`);
    }
    (arr as unknown[]).forEach((value, i) => items.push({ where: `record [${i}]`, value }));
  } else {
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (e) {
        throw new UsageError(`kafka-turbo produce: --file ${file}: line ${i + 1} is not valid JSON: ${(e as Error).message}`);
      }
      items.push({ where: `line ${i + 1}`, value });
    });
  }
  return items.map(({ where, value: r }) => {
    const bad = (why: string): never => {
      throw new UsageError(`kafka-turbo produce: --file ${file}: ${where}: ${why}`);
    };
    if (r === null || typeof r !== 'object' || Array.isArray(r)) bad('a record is a JSON object with a "value"');
    const o = r as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!['key', 'value', 'headers', 'partition', 'timestamp'].includes(k)) bad(`unknown field ${JSON.stringify(k)} (fields: key, value, headers, partition, timestamp)`);
    if (!('value' in o)) bad('no "value" (use "value": null for a tombstone)');
    const rec: FileRecord = { key: jsonBytes(o.key), value: jsonBytes(o.value) };
    if (o.headers !== undefined) {
      const h = o.headers;
      if (Array.isArray(h)) {
        rec.headers = h.map((x) => {
          if (x === null || typeof x !== 'object' || typeof (x as { key?: unknown }).key !== 'string') bad('each header in a list is { "key": string, "value": ... }');
          return { key: (x as { key: string }).key, value: jsonBytes((x as { value?: unknown }).value) };
        }) as unknown as ProducerRecord['headers'];
      } else if (h !== null && typeof h === 'object') {
        rec.headers = Object.fromEntries(Object.entries(h).map(([k, v]) => [k, jsonBytes(v)])) as ProducerRecord['headers'];
      } else bad('"headers" is an object or a list of { key, value }');
    }
    if (o.partition !== undefined) {
      if (!Number.isInteger(o.partition) || (o.partition as number) < 0) bad('"partition" is a non-negative integer');
      rec.partition = o.partition as number;
    }
    if (o.timestamp !== undefined) {
      if (typeof o.timestamp !== 'number' || !Number.isInteger(o.timestamp)) bad('"timestamp" is milliseconds since the epoch (an integer)');
      rec.timestamp = o.timestamp as number;
    }
    return rec;
  });
}

/** Headers given on the command line, merged under a record's own (its own win). */
function withHeaders(rec: FileRecord, common: [string, string][]): FileRecord {
  if (common.length === 0) return rec;
  const own = rec.headers;
  const list: { key: string; value: string | Buffer | null }[] = common.map(([key, value]) => ({ key, value }));
  if (Array.isArray(own)) list.push(...(own as { key: string; value: string | Buffer | null }[]));
  else if (own) for (const [key, value] of Object.entries(own as Record<string, string | null>)) list.push({ key, value });
  return { ...rec, headers: list as unknown as ProducerRecord['headers'] };
}

export async function runProduce(o: ProduceOptions): Promise<ProduceResult> {
  const fileRecords = o.records ?? null;
  const producer = new Producer(o.config);
  const warn = o.warn ?? (() => {});
  const stats = new Stats(fileRecords?.length);
  let n = 0;
  const win = new SendWindow(o.window, stats, warn, o.signal);
  o.onStart?.(stats, () => win.inFlight);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const send = async (rec: FileRecord): Promise<void> => {
    await win.waitForRoom();
    if (o.signal?.aborted) return;
    const full = withHeaders(rec, o.headers);
    const size = (full.value === null || full.value === undefined ? 0 : Buffer.byteLength(full.value as string)) + (full.key ? Buffer.byteLength(full.key as string) : 0);
    const i = n++;
    const start = performance.now();
    win.track(producer.send({ topic: o.topic, ...full }), i, start, size);
  };
  if (fileRecords) {
    for (const rec of fileRecords) {
      if (o.signal?.aborted) break;
      await send(rec);
    }
  } else {
    const lines = createInterface({ input: o.input, crlfDelay: Infinity });
    const stop = (): void => lines.close();
    o.signal?.addEventListener('abort', stop);
    const sep = o.keySeparator;
    for await (const line of lines) {
      if (o.signal?.aborted) break;
      const at = sep ? line.indexOf(sep) : -1;
      await send(at >= 0 ? { key: line.slice(0, at), value: line.slice(at + sep!.length) } : { key: null, value: line });
    }
    o.signal?.removeEventListener('abort', stop);
  }
  let interrupted = o.signal?.aborted === true;
  win.close();
  // A Ctrl-C during the last flush stops the wait as one during the sends does (the bounded
  // close below then gives the records in flight their last chance).
  if (!interrupted) interrupted = !(await settledUnlessAborted(producer.flush(), o.signal));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const metrics = producer.metrics();
  await producer.close(interrupted ? { timeoutMs: 3000 } : {});
  return { stats, seconds, cpu, producer, metrics, interrupted };
}
