/**
 * What the broker stored, read from its log files by Kafka's own DumpLogSegments tool (an
 * independent reader of batch attributes such as the compression codec, which kcat does not
 * show). Works for brokers started by the test harness on this machine: their log dirs are
 * under the system temp dir, and topic names are unique per test.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kafkaVersion } from './broker.js';

const REPO_ROOT = join(__dirname, '..', '..', '..');

/** The partition's log directories (one per replica) under the harness's temp dirs. */
export function partitionDirs(topic: string, partition: number): string[] {
  const want = `${topic}-${partition}`;
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (depth > 5) return;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const p = join(dir, e.name);
      if (e.name === want) found.push(p);
      else if (depth === 0 ? e.name.startsWith('kafka-turbo') : true) walk(p, depth + 1);
    }
  };
  walk(tmpdir(), 0);
  return found;
}

export interface StoredBatch {
  baseOffset: number;
  count: number;
  codec: string;
}

/** Every batch stored for topic-partition (read from the first replica's log files). */
export function storedBatches(topic: string, partition: number): StoredBatch[] {
  const dirs = partitionDirs(topic, partition);
  if (dirs.length === 0) throw new Error(`no log directory for ${topic}-${partition} under ${tmpdir()}`);
  const segments = readdirSync(dirs[0]!).filter((f) => f.endsWith('.log')).map((f) => join(dirs[0]!, f));
  const lib = join(REPO_ROOT, '.cache', 'kafka', kafkaVersion(), 'lib');
  if (!existsSync(lib)) throw new Error(`Kafka jars not found in ${lib}`);
  const out = execFileSync('java', ['-cp', `${lib}/*`, 'kafka.tools.DumpLogSegments', '--files', segments.join(',')], {
    maxBuffer: 256 << 20,
    stdio: ['ignore', 'pipe', 'ignore'],
  }).toString();
  const batches: StoredBatch[] = [];
  for (const line of out.split('\n')) {
    const m = /baseOffset: (\d+) lastOffset: \d+ count: (\d+) .*compresscodec: (\w+)/.exec(line);
    if (m) batches.push({ baseOffset: Number(m[1]), count: Number(m[2]), codec: m[3]!.toLowerCase() });
  }
  return batches;
}
