/**
 * Where an awaited single send's time goes, stage by stage, per backend and transport: the
 * diagnostic behind latency.bench.ts's p50 (issue 15: "find and remove the native backend's
 * extra latency"; issue 10 item 5: native never slower than the fallback).
 *
 *   node out/bench/latency-stages.bench.js [--bootstrap host:port] [--sends 4000] [--rounds 3]
 *     [--warm 3000] [--cases native/net,native/uring,fallback]
 *
 * Each case runs in a child process (the cases alternate, in a rotated order per round) that
 * wraps the producer's own methods with a clock read at entry, on their prototypes, then does
 * --warm awaited sends off the clock and --sends on it (acks=1, linger.ms 0, 100 B, one
 * partition). Per send it keeps the gap from the previous mark to each mark reached, and
 * prints the median gap per stage:
 *
 *   run        send() called → the Sender's run starts (enqueue, append, the microtask)
 *   drain      → drainFresh (expire, ready)
 *   produce    → produce() (the drain: the backend's drain call, batch objects)
 *   request    → the connection's requestWith() (ProduceRequest encoded)
 *   write      → the socket's write (framing, pump; node:net's _writev or the ring's submit)
 *   bytes      → the response's bytes reach JavaScript (mostly the broker and the network)
 *   frame      → onFrame (the frame cut from the read chunks)
 *   decoded    → Produce.decode returned
 *   response   → the Sender's handleResponse (called from the read callback that decoded it)
 *   succeed    → succeed (partition responses matched)
 *   resolved   → the awaiting code resumes (complete() on the backend, the send's promise)
 *
 * The wrappers cost a few hundred nanoseconds each, the same for every case: compare cases
 * within one run, not with latency.bench.ts's absolute numbers.
 */
import * as net from 'node:net';
import { benchMain, runChild } from './lib/child.js';

const VALUE = Buffer.alloc(100, 0x61);
const STAGES = ['run', 'drain', 'produce', 'request', 'write', 'bytes', 'frame', 'decoded', 'response', 'succeed', 'resolved'] as const;
type Stage = (typeof STAGES)[number];

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function child(): Promise<void> {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { Producer } = require('../ts/producer/producer.js') as typeof import('../ts/producer/producer.js');
  const { Sender } = require('../ts/producer/sender.js') as typeof import('../ts/producer/sender.js');
  const { BrokerConnection } = require('../ts/net/connection.js') as typeof import('../ts/net/connection.js');
  const { UringSocket } = require('../ts/net/transport-uring.js') as typeof import('../ts/net/transport-uring.js');
  const { Produce } = require('../ts/protocol/produce.js') as typeof import('../ts/protocol/produce.js');
  const { backendInfo } = require('../ts/index.js') as typeof import('../ts/index.js');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const now = (): number => Number(process.hrtime.bigint()) / 1000;
  // The first time each stage is reached in the current send (later ones, e.g. a second
  // run, are not the awaited send's path).
  const marks = new Map<Stage, number>();
  const mark = (s: Stage): void => {
    if (!marks.has(s)) marks.set(s, now());
  };
  const wrap = (proto: object, name: string, stage: Stage): void => {
    const p = proto as Record<string, (...a: unknown[]) => unknown>;
    const original = p[name];
    if (typeof original !== 'function') throw new Error(`latency-stages: no method ${name} to wrap (renamed?)`);
    p[name] = function (this: unknown, ...a: unknown[]) {
      mark(stage);
      return original.apply(this, a);
    };
  };
  wrap(Sender.prototype, 'run', 'run');
  wrap(Sender.prototype, 'drainFresh', 'drain');
  wrap(Sender.prototype, 'produce', 'produce');
  wrap(BrokerConnection.prototype, 'requestWith', 'request');
  wrap(net.Socket.prototype, '_writev', 'write');
  wrap(net.Socket.prototype, '_write', 'write');
  wrap(UringSocket.prototype, 'submit', 'write');
  wrap(UringSocket.prototype, 'onData', 'bytes');
  const emit = net.Socket.prototype.emit;
  net.Socket.prototype.emit = function (this: net.Socket, ev: string | symbol, ...a: unknown[]) {
    if (ev === 'data') mark('bytes');
    return emit.apply(this, [ev, ...a] as Parameters<typeof emit>);
  } as typeof emit;
  wrap(BrokerConnection.prototype, 'onFrame', 'frame');
  const decode = Produce.decode;
  Produce.decode = (version, r) => {
    const out = decode(version, r);
    mark('decoded');
    return out;
  };
  wrap(Sender.prototype, 'handleResponse', 'response');
  wrap(Sender.prototype, 'succeed', 'succeed');
  wrap(Sender.prototype, 'succeedOne', 'succeed'); // one batch answered: handleResponse's short path

  const topic = process.env['TOPIC']!;
  const p = new Producer({ 'bootstrap.servers': process.env['BOOTSTRAP']!, acks: 1, 'enable.idempotence': false, 'linger.ms': 0 });
  await p.connect([topic]);
  const warm = Number(process.env['WARM']);
  for (let i = 0; i < warm; i++) await p.send({ topic, partition: 0, value: VALUE });
  const gaps = new Map<Stage, number[]>(STAGES.map((s) => [s, []]));
  const totals: number[] = [];
  const n = Number(process.env['N']);
  for (let i = 0; i < n; i++) {
    marks.clear();
    const t0 = now();
    await p.send({ topic, partition: 0, value: VALUE });
    marks.set('resolved', now());
    totals.push(marks.get('resolved')! - t0);
    let prev = t0;
    for (const s of STAGES) {
      const at = marks.get(s);
      if (at === undefined) continue;
      gaps.get(s)!.push(at - prev);
      prev = at;
    }
  }
  const info = backendInfo() as { backend: string; io?: string };
  await p.close();
  const out: Record<string, number | string> = { info: `${info.backend}/${info.io ?? 'net'}`, total: median(totals) };
  for (const s of STAGES) {
    const g = gaps.get(s)!;
    // A stage every send passes through has a gap per send; one that is skipped has none.
    out[s] = g.length >= n / 2 ? median(g) : NaN;
  }
  console.log(JSON.stringify(out));
}

async function parent(): Promise<void> {
  const sends = arg('sends', '4000');
  const rounds = Number(arg('rounds', '3'));
  const warm = arg('warm', '3000');
  const names = arg('cases', 'native/net,native/uring,fallback').split(',');
  const env: Record<string, Record<string, string>> = {
    'native/net': { KAFKA_TURBO_BACKEND: 'native', KAFKA_TURBO_IO: 'net' },
    'native/uring': { KAFKA_TURBO_BACKEND: 'native', KAFKA_TURBO_IO: 'uring' },
    fallback: { KAFKA_TURBO_BACKEND: 'fallback' },
  };
  for (const n of names) if (!env[n]) throw new Error(`--cases: expected some of ${Object.keys(env).join(',')}, got ${n}`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const harness = require('../../test/helpers/kafka/cluster.cjs');
  const given = arg('bootstrap', '');
  const cluster = given ? await harness.connectCluster(given) : await harness.startCluster({ brokers: 1 });
  const rows = new Map<string, Record<string, number[]>>(names.map((n) => [n, {}]));
  let k = 0;
  try {
    for (let round = 1; round <= rounds; round++) {
      const shift = round % names.length;
      for (const name of [...names.slice(shift), ...names.slice(0, shift)]) {
        const topic = `bench-stages-${Date.now().toString(36)}-${k++}`;
        await cluster.createTopic(topic, { partitions: 1 });
        const r = await runChild<Record<string, number | string>>(__filename, { ...env[name]!, BOOTSTRAP: cluster.bootstrap, TOPIC: topic, N: sends, WARM: warm });
        const want = name === 'fallback' ? 'fallback/net' : name;
        if (r['info'] !== want) throw new Error(`${name} ran as ${r['info']} (see backendInfo())`);
        console.error(`round ${round} ${name}: total ${(r['total'] as number).toFixed(1)} µs`);
        const row = rows.get(name)!;
        for (const [key, v] of Object.entries(r)) if (typeof v === 'number') (row[key] ??= []).push(v);
      }
    }
  } finally {
    if (!given) await cluster.stop();
  }
  console.log(`awaited single sends, median µs per stage (gap from the previous mark), ${sends} sends after ${warm} untimed, medians of ${rounds} rounds`);
  console.log(`| case | total | ${STAGES.join(' | ')} |`);
  console.log(`|---|---|${STAGES.map(() => '---').join('|')}|`);
  for (const name of names) {
    const row = rows.get(name)!;
    const cell = (key: string) => (row[key] && row[key]!.every(Number.isFinite) ? median(row[key]!).toFixed(1) : '–');
    console.log(`| ${name} | ${cell('total')} | ${STAGES.map(cell).join(' | ')} |`);
  }
}

benchMain(parent, child);
