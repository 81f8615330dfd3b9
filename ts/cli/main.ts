#!/usr/bin/env node
/**
 * kafka-turbo command line:
 *   kafka-turbo perf  --bootstrap host:port --topic T [--records N] [--record-size B] [--acks all|1|0]
 *                     [--linger-ms N] [--batch-size N] [--window N] [--json]
 *   kafka-turbo produce --bootstrap host:port --topic T [--key-separator SEP] [--acks ...]
 *                     (one record per line of standard input)
 * (`npm run demo` starts a local broker and runs `perf` against it.)
 */
import { createInterface } from 'node:readline';
import { Producer } from '../producer/producer.js';
import { formatReport, runPerf } from './perf.js';

function parseArgs(argv: string[]): { cmd: string; opts: Map<string, string> } {
  const [cmd = 'help', ...rest] = argv;
  const opts = new Map<string, string>();
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (!a.startsWith('--')) throw new Error(`Unexpected argument ${JSON.stringify(a)}`);
    const name = a.slice(2);
    const next = rest[i + 1];
    if (next === undefined || next.startsWith('--')) opts.set(name, 'true');
    else {
      opts.set(name, next);
      i++;
    }
  }
  return { cmd, opts };
}

function required(opts: Map<string, string>, name: string): string {
  const v = opts.get(name);
  if (!v) throw new Error(`--${name} is required`);
  return v;
}

function int(opts: Map<string, string>, name: string, dflt: number): number {
  const v = opts.get(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, not ${JSON.stringify(v)}`);
  return n;
}

const USAGE = `usage:
  kafka-turbo perf --bootstrap host:port --topic T [--records 1000000] [--record-size 100]
                   [--acks all] [--linger-ms 5] [--batch-size 16384] [--window 10000] [--json]
  kafka-turbo produce --bootstrap host:port --topic T [--key-separator SEP] [--acks all]`;

export async function main(argv: string[]): Promise<number> {
  const { cmd, opts } = parseArgs(argv);
  if (cmd === 'perf') {
    const report = await runPerf({
      bootstrap: required(opts, 'bootstrap'),
      topic: required(opts, 'topic'),
      records: int(opts, 'records', 1_000_000),
      recordSize: int(opts, 'record-size', 100),
      acks: opts.get('acks') ?? 'all',
      lingerMs: int(opts, 'linger-ms', 5),
      batchSize: int(opts, 'batch-size', 16384),
      window: Math.max(1, int(opts, 'window', 10_000)),
    });
    console.log(opts.has('json') ? JSON.stringify(report) : formatReport(report));
    return report.errors === 0 ? 0 : 1;
  }
  if (cmd === 'produce') {
    const topic = required(opts, 'topic');
    const sep = opts.get('key-separator');
    const producer = new Producer({ 'bootstrap.servers': required(opts, 'bootstrap'), acks: opts.get('acks') ?? 'all' });
    let sent = 0;
    let failed = 0;
    const pending: Promise<unknown>[] = [];
    for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
      const at = sep ? line.indexOf(sep) : -1;
      const key = at >= 0 ? line.slice(0, at) : null;
      const value = at >= 0 ? line.slice(at + sep!.length) : line;
      pending.push(
        producer.send({ topic, key, value }).then(
          () => sent++,
          (e: Error) => {
            failed++;
            console.error(`record ${JSON.stringify(line.slice(0, 80))} failed: ${e.message}`);
          },
        ),
      );
      if (pending.length >= 10_000) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    await producer.close();
    console.error(`${sent} records sent, ${failed} failed`);
    return failed === 0 ? 0 : 1;
  }
  console.log(USAGE);
  return cmd === 'help' || cmd === '--help' ? 0 : 2;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(`kafka-turbo: ${err.message}`);
      process.exit(2);
    },
  );
}
