/**
 * An independent reader (and writer) for the integration tests: Debian's kcat (librdkafka).
 *
 * readTopic() runs `kcat -C -J`, with librdkafka's CRC checks on, so a batch whose CRC32C is
 * wrong fails the read. Binary safety: kcat's JSON writer (yajl) escapes only '"', '\' and the
 * bytes below 0x20 and copies every other byte as it is, without UTF-8 validation. So the
 * output is read as latin1 (one char per byte), JSON.parse undoes the escapes, and
 * Buffer.from(s, 'latin1') gives back the exact bytes, whatever they are. A null key (or
 * value, or header value) is JSON null; an empty one is "".
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface ConsumedRecord {
  partition: number;
  offset: number;
  /** Milliseconds since the epoch, as stored (CreateTime) or as the broker set it (LogAppendTime). */
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  /** In record order; a null header value reads as an empty Buffer here (see rawHeaders). */
  headers: [string, Buffer][];
  /** The same headers, with null values kept as null. */
  rawHeaders: [string, Buffer | null][];
  timestampType: 'create' | 'logappend' | 'unknown';
}

export interface ReadTopicOptions {
  /** Give up after this long; default 30 s. */
  timeoutMs?: number;
  /** On timeout, return what was read instead of throwing. */
  partial?: boolean;
  /** Also return records of open and aborted transactions (default: read_committed). */
  readUncommitted?: boolean;
  /** Extra librdkafka properties, e.g. kcatSecurity()'s for a TLS or SASL listener. */
  config?: Record<string, string>;
}

/** The files and users kcatSecurity() needs (what getCluster({ secure: true }) gives). */
export interface KcatSecureCluster {
  users: Record<string, string>;
  certs: { ca: string; clientCert: string; clientKey: string; passwords: { clientKey: string } };
}

/**
 * librdkafka settings for kcat on one of the secure cluster's listeners. Debian 12's kcat
 * (librdkafka 2.0.2) cannot log in with SCRAM to Kafka 4 (fixed in librdkafka 2.6.1), so
 * SCRAM is not offered here: read SCRAM-produced topics over PLAIN or OAUTHBEARER instead.
 * OAUTHBEARER uses librdkafka's unsecured JWT, which the test broker's unsecured validator takes.
 */
export function kcatSecurity(
  cluster: KcatSecureCluster,
  protocol: 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL',
  mechanism?: 'PLAIN' | 'OAUTHBEARER',
): Record<string, string> {
  const out: Record<string, string> = { 'security.protocol': protocol.toLowerCase() };
  if (protocol !== 'SASL_PLAINTEXT') {
    out['ssl.ca.location'] = cluster.certs.ca;
    if (protocol === 'SSL') {
      // The SSL listener requires a client certificate.
      out['ssl.certificate.location'] = cluster.certs.clientCert;
      out['ssl.key.location'] = cluster.certs.clientKey;
      out['ssl.key.password'] = cluster.certs.passwords.clientKey;
    }
  }
  if (protocol !== 'SSL') {
    const [user, password] = Object.entries(cluster.users)[0]!;
    out['sasl.mechanisms'] = mechanism ?? 'PLAIN';
    if ((mechanism ?? 'PLAIN') === 'PLAIN') {
      out['sasl.username'] = user;
      out['sasl.password'] = password;
    } else {
      out['enable.sasl.oauthbearer.unsecure.jwt'] = 'true';
      out['sasl.oauthbearer.config'] = `principal=${user}`;
    }
  }
  return out;
}

interface KcatJson {
  partition: number;
  offset: number;
  tstype?: string;
  ts?: number;
  headers?: (string | null)[];
  key: string | null;
  payload: string | null;
}

const bytes = (s: string | null): Buffer | null => (s === null ? null : Buffer.from(s, 'latin1'));
const text = (s: string): string => Buffer.from(s, 'latin1').toString('utf8');

function parseLine(line: string): ConsumedRecord {
  const j = JSON.parse(line) as KcatJson;
  const rawHeaders: [string, Buffer | null][] = [];
  const h = j.headers ?? [];
  for (let i = 0; i + 1 < h.length; i += 2) rawHeaders.push([text(h[i] ?? ''), bytes(h[i + 1] ?? null)]);
  return {
    partition: j.partition,
    offset: j.offset,
    timestamp: j.ts ?? -1,
    key: bytes(j.key),
    value: bytes(j.payload),
    headers: rawHeaders.map(([k, v]) => [k, v ?? Buffer.alloc(0)]),
    rawHeaders,
    timestampType: j.tstype === 'create' || j.tstype === 'logappend' ? j.tstype : 'unknown',
  };
}

interface KcatRun {
  code: number | null;
  stdout: Buffer;
  stderr: string;
  killed: boolean;
}

function runKcat(args: string[], input: Buffer | null, timeoutMs: number): Promise<KcatRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', args, { stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, Math.max(1, timeoutMs));
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run kcat (run scripts/install.sh): ${e.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: err.trim(), killed });
    });
    if (input) child.stdin!.end(input);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Reads the whole topic (every partition, from the beginning) until at least expectedCount
 * records are there, and returns all of them (so duplicates show as more than expected),
 * ordered by partition, then offset. Throws on timeout unless opts.partial.
 */
export async function readTopic(
  bootstrap: string,
  topic: string,
  expectedCount: number,
  opts: ReadTopicOptions = {},
): Promise<ConsumedRecord[]> {
  const timeoutMs = opts.timeoutMs ?? 30000;
  const deadline = Date.now() + timeoutMs;
  const args = [
    '-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-e', '-J', '-q',
    '-X', 'check.crcs=true',
    '-X', 'fetch.wait.max.ms=50',
    '-X', 'topic.metadata.refresh.interval.ms=1000',
    '-X', `isolation.level=${opts.readUncommitted ? 'read_uncommitted' : 'read_committed'}`,
  ];
  for (const [k, v] of Object.entries(opts.config ?? {})) args.push('-X', `${k}=${v}`);
  let records: ConsumedRecord[] = [];
  let lastProblem = '';
  for (;;) {
    const run = await runKcat(args, null, deadline - Date.now());
    const lines = run.stdout.toString('latin1').split('\n');
    const got: ConsumedRecord[] = [];
    for (const line of lines) if (line.length > 0) got.push(parseLine(line));
    if (got.length >= records.length) records = got;
    lastProblem = run.killed
      ? 'kcat was still running at the deadline'
      : run.code !== 0
        ? `kcat exited with ${run.code}: ${run.stderr}`
        : run.stderr;
    if (run.code === 0 && records.length >= expectedCount) break;
    if (Date.now() >= deadline) {
      if (opts.partial) break;
      throw new Error(
        `readTopic ${topic}: expected ${expectedCount} records, read ${records.length} in ${timeoutMs} ms` +
          (lastProblem ? ` (${lastProblem})` : ''),
      );
    }
    await sleep(100);
  }
  records.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  return records;
}

export interface ProduceOptions {
  /** Target partition; default: kcat's partitioner (consistent_random on the key). */
  partition?: number;
  /** Headers put on every record of this call. */
  headers?: [string, string][];
  /** Extra librdkafka properties, e.g. { 'compression.codec': 'lz4' }. */
  config?: Record<string, string>;
}

/**
 * Writes records with kcat -P (an independent producer, e.g. to check that what kafka-turbo
 * writes sits next to what librdkafka writes). Keys and values are text without tabs or
 * newlines; key null = no key. Resolves once kcat has them acknowledged (acks=all).
 */
export async function produceWithKcat(
  bootstrap: string,
  topic: string,
  records: { key: string | null; value: string }[],
  opts: ProduceOptions = {},
): Promise<void> {
  const args = ['-P', '-b', bootstrap, '-t', topic, '-K', '\t', '-X', 'acks=all'];
  if (opts.partition !== undefined) args.push('-p', String(opts.partition));
  for (const [k, v] of opts.headers ?? []) args.push('-H', `${k}=${v}`);
  for (const [k, v] of Object.entries(opts.config ?? {})) args.push('-X', `${k}=${v}`);
  for (const r of records) {
    if (/[\t\n]/.test(r.value) || (r.key !== null && /[\t\n]/.test(r.key))) {
      throw new Error('produceWithKcat: keys and values must not contain tabs or newlines');
    }
  }
  // A line without the delimiter is a record without a key.
  const input = records.map((r) => (r.key === null ? r.value : `${r.key}\t${r.value}`)).join('\n') + '\n';
  const run = await runKcat(args, Buffer.from(input, 'utf8'), 60000);
  if (run.code !== 0 || run.killed) throw new Error(`kcat -P failed (${run.killed ? 'timeout' : run.code}): ${run.stderr}`);
}

/** Writes one record whose value is the given bytes (any bytes), without a key. */
export async function produceBytesWithKcat(
  bootstrap: string,
  topic: string,
  value: Buffer,
  opts: ProduceOptions = {},
): Promise<void> {
  // kcat -P sends each file named on its command line as one message, bytes as they are.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kcat-'));
  const file = path.join(dir, 'value.bin');
  fs.writeFileSync(file, value);
  try {
    const args = ['-P', '-b', bootstrap, '-t', topic, '-X', 'acks=all'];
    if (opts.partition !== undefined) args.push('-p', String(opts.partition));
    for (const [k, v] of opts.headers ?? []) args.push('-H', `${k}=${v}`);
    for (const [k, v] of Object.entries(opts.config ?? {})) args.push('-X', `${k}=${v}`);
    args.push(file);
    const run = await runKcat(args, null, 60000);
    if (run.code !== 0 || run.killed) throw new Error(`kcat -P failed (${run.killed ? 'timeout' : run.code}): ${run.stderr}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
