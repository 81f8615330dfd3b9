/**
 * Awaited single-send latency against its own floor, in one run: p50 and p99 of one 100-byte
 * record, acks=1, linger.ms 0, one partition, each send awaited before the next, for
 *
 *   floor          a plain node:net socket writing one pre-encoded ProduceRequest v3 and the
 *                  next when the response is in: no client library, what any client on this
 *                  machine can at best reach (FACTS.md);
 *   floor/uring    the same loop over the native backend's io_uring transport: the gap
 *                  between the two floors is the transport's own, with no producer around it;
 *   native/net     kafka-turbo's native backend over node:net;
 *   native/uring   kafka-turbo's native backend over the io_uring transport (when it loads);
 *   floor/uring-ringrecv, native/uring-ringrecv (and -pollrecv): the same two over the ring
 *                  with its receive mode forced (KAFKA_TURBO_IO_RECV=ring|poll; the plain
 *                  names run the default), to compare the modes within one run;
 *   fallback       kafka-turbo's pure-TypeScript backend;
 *   KafkaJS, @platformatic/kafka as peers.
 *
 *   npm run build && node out/bench/latency.bench.js [--sends 2000] [--rounds 4]
 *       [--warm 3000] [--bootstrap host:port] [--cases floor,native/net,...] [--cpu-prof DIR]
 *       [--taskrun plain,coop]
 *
 * Each case runs in its own child process (its own JIT, heap and sockets); round 0 is a
 * warm-up (a fresh broker JVM is slow for its first minute) and is not counted; the order of
 * the cases rotates between rounds. Each row is the median over rounds of that round's p50
 * and p99, and its ratio to the floor's median: ratios within one run are what to compare on
 * this noisy shared machine, not absolute numbers. Client CPU per send (process.cpuUsage over
 * the timed loop) is reported beside them. Before it counts, every response is checked (error
 * code 0, offsets that grow by one) and the topic's end offset must add up to what was sent.
 * --cpu-prof DIR writes one V8 CPU profile per kafka-turbo child (for finding where a
 * microsecond goes).
 *
 * --batched N adds three throughput cases, native/net batched, native/uring batched and
 * native/uring-buffers batched (the ring with KAFKA_TURBO_NATIVE_BATCHES=0: a Buffer per
 * drained batch, as before drained batches stayed native): N
 * records of 100 bytes sent with send() per record and up to 10,000 unsettled (the CLI's
 * window), the producer's defaults otherwise (linger.ms 5, batch.size 16 KiB), acks=1, after
 * 20,000 untimed ones; records/s and client CPU per record, medians of the rounds, in a
 * second table (issue 15: the ring's batched throughput and CPU per record against
 * node:net's, in the same run).
 */
import { join } from 'node:path';
import * as net from 'node:net';
import { Producer } from '../ts/producer/producer.js';
import { Produce } from '../ts/protocol/produce.js';
import { encodeRecordBatch } from '../ts/protocol/record-batch.js';
import { writeRequestHeader } from '../ts/protocol/request-header.js';
import { Writer } from '../ts/protocol/writer.js';
import { Reader } from '../ts/protocol/reader.js';
import { CodecId } from '../ts/backend/types.js';
import type { TransportSocket } from '../ts/net/transport.js';
import { benchMain, runChild, sendInFlight } from './lib/child.js';

/**
 * Untimed awaited sends before the timed ones (--warm). V8 compiles a function with Turbofan
 * only after it has run many times: with 200 warm-up sends (the first setting) ~180 of the
 * producer's functions were still being optimized during the timed loop (--trace-opt), so
 * the JIT's worker threads added ~100 µs of CPU per send and the main thread ran interpreted
 * code; after 3000 nothing on the send path is compiled any more. The floor has almost no
 * code to warm: a short warm-up measured the client library's start-up, not its steady state.
 */
const WARM = Number(process.env['WARM'] ?? 3000);
const VALUE = Buffer.alloc(100, 0x61);

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

interface ChildResult {
  sends: number;
  p50Us: number;
  p99Us: number;
  cpuUsPerSend: number;
  /** Batched cases: records per second of the timed part. */
  recordsPerSec?: number;
  /** What kafka-turbo reported it runs on (backend, io), to check the case is what it says. */
  info?: string;
  /** On the ring: its receive mode as backendInfo().ioReason says it ('poll' | 'ring'). */
  recv?: string;
}

/** The ring's receive mode from backendInfo().ioReason, when it runs on the ring. */
function recvOf(ioReason: string): string | undefined {
  return /; receive: [^;]*\((poll|ring)\)/.exec(ioReason)?.[1];
}

type Kind = 'floor' | 'turbo' | 'turbo-batched' | 'kafkajs' | 'platformatic';

/** Untimed records before a batched case's timed part, and its window of unsettled sends. */
const BATCHED_WARM = 20_000;
const BATCHED_WINDOW = 10_000;

/** Times `n` awaited calls of `once` after WARM untimed ones. */
async function timeLoop(n: number, once: () => Promise<void>): Promise<ChildResult> {
  for (let i = 0; i < WARM; i++) await once();
  const lat = new Float64Array(n);
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await once();
    lat[i] = Number(process.hrtime.bigint() - t) / 1000;
  }
  const c = process.cpuUsage(c0);
  lat.sort();
  return {
    sends: n + WARM,
    p50Us: lat[Math.floor(n * 0.5)]!,
    p99Us: lat[Math.floor(n * 0.99)]!,
    cpuUsPerSend: (c.user + c.system) / n,
  };
}

/**
 * The floor: one ProduceRequest v3 encoded once, written again each time its response is in.
 * `transport` 'uring' runs the same loop over the native backend's io_uring transport instead
 * of node:net (case floor/uring): the two floors differ only in the socket, so their gap is
 * the transport's own share of a round trip, without the producer's code around it.
 */
async function floor(bootstrap: string, topic: string, n: number, transport: 'net' | 'uring'): Promise<ChildResult> {
  const [host, port] = bootstrap.split(',')[0]!.split(':') as [string, string];
  const batch = encodeRecordBatch([{ key: null, value: VALUE, headers: null, timestamp: Date.now() }], {
    producerId: -1n,
    producerEpoch: -1,
    baseSequence: -1,
    transactional: false,
    codec: CodecId.None,
  });
  const body = Buffer.concat(
    Produce.encode(3, {
      transactionalId: null,
      acks: 1,
      timeoutMs: 30000,
      topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }],
    }),
  );
  const w = new Writer(64);
  const sizeAt = w.reserve(4);
  writeRequestHeader(w, { apiKey: 0, apiVersion: 3, correlationId: 0, clientId: 'floor' }, false);
  const header = w.finish();
  const request = Buffer.concat([header, body]);
  request.writeInt32BE(request.length - 4, sizeAt);
  let socket: TransportSocket;
  let info: string | undefined;
  let recv: string | undefined;
  if (transport === 'uring') {
    const { getBackend, backendInfo } = await import('../ts/backend/load.js');
    const t = getBackend().transport;
    if (t === undefined || t.name !== 'uring') throw new Error(`floor/uring: the backend has no io_uring transport (${backendInfo().ioReason})`);
    socket = t.connect(host, Number(port));
    info = backendInfo().ioReason;
    recv = recvOf(info);
  } else {
    socket = net.connect({ host, port: Number(port) });
  }
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let pending: ((frame: Buffer) => void) | null = null;
  let buffered: Buffer = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => {
    buffered = buffered.length === 0 ? d : Buffer.concat([buffered, d]);
    while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
      const size = buffered.readInt32BE(0);
      const frame = buffered.subarray(4, 4 + size);
      buffered = buffered.subarray(4 + size);
      const p = pending;
      pending = null;
      p?.(frame);
    }
  });
  let lastOffset = -1n;
  const result = await timeLoop(n, async () => {
    const frame = await new Promise<Buffer>((resolve) => {
      pending = resolve;
      socket.write(request);
    });
    // Checked as the clients' results are: no error, the next offset.
    const res = Produce.decode(3, new Reader(frame, 4));
    const part = res.responses[0]!.partitionResponses[0]!;
    if (part.errorCode !== 0 || (lastOffset >= 0n && part.baseOffset !== lastOffset + 1n)) {
      throw new Error(`floor: error ${part.errorCode}, offset ${part.baseOffset} after ${lastOffset}`);
    }
    lastOffset = part.baseOffset;
  });
  socket.destroy();
  if (info !== undefined) result.info = info;
  if (recv !== undefined) result.recv = recv;
  return result;
}

async function child(): Promise<void> {
  const bootstrap = process.env['BOOTSTRAP']!;
  const topic = process.env['TOPIC']!;
  const n = Number(process.env['N']);
  const kind = process.env['KIND'] as Kind;
  let out: ChildResult;
  if (kind === 'floor') {
    out = await floor(bootstrap, topic, n, process.env['KAFKA_TURBO_IO'] === 'uring' ? 'uring' : 'net');
  } else if (kind === 'turbo') {
    const p = new Producer({ 'bootstrap.servers': bootstrap, acks: 1, 'enable.idempotence': false, 'linger.ms': 0 });
    await p.connect([topic]);
    let last = -1;
    out = await timeLoop(n, async () => {
      const md = await p.send({ topic, partition: 0, value: VALUE });
      if (last >= 0 && Number(md.offset) !== last + 1) throw new Error(`offset ${md.offset} after ${last}`);
      last = Number(md.offset);
    });
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { backendInfo } = require('../ts/index.js') as typeof import('../ts/index.js');
    const info = backendInfo() as { backend: string; ioUring: boolean; io?: string; ioReason?: string };
    out.info = `${info.backend}/${info.io ?? (info.ioUring ? 'uring' : 'net')}`;
    const recv = recvOf(info.ioReason ?? '');
    if (recv !== undefined) out.recv = recv;
    await p.close();
  } else if (kind === 'turbo-batched') {
    const p = new Producer({ 'bootstrap.servers': bootstrap, acks: 1, 'enable.idempotence': false });
    await p.connect([topic]);
    const send = () => p.send({ topic, value: VALUE });
    await sendInFlight(BATCHED_WARM, BATCHED_WINDOW, send, () => p.flush());
    const r = await sendInFlight(n, BATCHED_WINDOW, send, () => p.flush());
    if (r.acked !== n) throw new Error(`batched: ${r.acked} of ${n} acknowledged`);
    out = { sends: n + BATCHED_WARM, p50Us: NaN, p99Us: NaN, cpuUsPerSend: r.cpuUsPerRecord, recordsPerSec: r.recordsPerSec };
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { backendInfo } = require('../ts/index.js') as typeof import('../ts/index.js');
    const info = backendInfo() as { backend: string; ioUring: boolean; io?: string; ioReason?: string };
    const io = info.io ?? (info.ioUring ? 'uring' : 'net');
    const recv = recvOf(info.ioReason ?? '');
    if (recv !== undefined) out.recv = recv;
    // KAFKA_TURBO_NATIVE_BATCHES=0: the ring with a Buffer per drained batch.
    const buffers = io === 'uring' && process.env['KAFKA_TURBO_NATIVE_BATCHES'] === '0' ? '-buffers' : '';
    out.info = `${info.backend}/${io}${buffers} batched`;
    await p.close();
  } else if (kind === 'kafkajs') {
    const { Kafka, logLevel } = require('kafkajs') as typeof import('kafkajs');
    const producer = new Kafka({ clientId: 'bench', brokers: [bootstrap], logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    out = await timeLoop(n, async () => {
      const r = await producer.send({ topic, acks: 1, messages: [{ value: VALUE, partition: 0 }] });
      if (r[0]?.errorCode !== 0) throw new Error(`kafkajs: ${JSON.stringify(r)}`);
    });
    await producer.disconnect();
  } else {
    const { Producer: PProducer, ProduceAcks } = await import('@platformatic/kafka');
    const producer = new PProducer({ clientId: 'bench', bootstrapBrokers: [bootstrap], acks: ProduceAcks.LEADER });
    out = await timeLoop(n, async () => {
      const r = await producer.send({ messages: [{ topic, partition: 0, value: VALUE }] });
      if (!r.offsets || r.offsets.length !== 1) throw new Error('platformatic: no offset');
    });
    await producer.close();
  }
  console.log(JSON.stringify(out));
}

interface CaseDef {
  name: string;
  kind: Kind;
  env: Record<string, string>;
}

function runCase(c: CaseDef, env: Record<string, string>, profDir: string): Promise<ChildResult> {
  const execArgv = profDir && c.kind === 'turbo' ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [];
  return runChild<ChildResult>(__filename, { ...c.env, ...env, KIND: c.kind }, { execArgv }).catch((e: Error) => {
    throw new Error(`${c.name}: ${e.message}`);
  });
}

async function parent(): Promise<void> {
  const sends = Number(arg('sends', '2000'));
  const rounds = Number(arg('rounds', '4'));
  const profDir = arg('cpu-prof', '');
  const warm = arg('warm', '3000');
  const all: CaseDef[] = [
    { name: 'floor', kind: 'floor', env: {} },
    { name: 'floor/uring', kind: 'floor', env: { KAFKA_TURBO_BACKEND: 'native', KAFKA_TURBO_IO: 'uring' } },
    { name: 'native/net', kind: 'turbo', env: { KAFKA_TURBO_BACKEND: 'native', KAFKA_TURBO_IO: 'net' } },
    { name: 'native/uring', kind: 'turbo', env: { KAFKA_TURBO_BACKEND: 'native', KAFKA_TURBO_IO: 'uring' } },
    ...(['ring', 'poll'] as const).flatMap((m): CaseDef[] => {
      const env = { KAFKA_TURBO_BACKEND: 'native', KAFKA_TURBO_IO: 'uring', KAFKA_TURBO_IO_RECV: m };
      return [
        { name: `floor/uring-${m}recv`, kind: 'floor', env },
        { name: `native/uring-${m}recv`, kind: 'turbo', env },
      ];
    }),
    { name: 'fallback', kind: 'turbo', env: { KAFKA_TURBO_BACKEND: 'fallback', KAFKA_TURBO_IO: 'net' } },
    { name: 'KafkaJS', kind: 'kafkajs', env: {} },
    { name: '@platformatic/kafka', kind: 'platformatic', env: {} },
  ];
  const batched = Number(arg('batched', '0'));
  if (batched > 0) {
    all.push(
      { name: 'native/net batched', kind: 'turbo-batched', env: { KAFKA_TURBO_BACKEND: 'native', KAFKA_TURBO_IO: 'net' } },
      { name: 'native/uring batched', kind: 'turbo-batched', env: { KAFKA_TURBO_BACKEND: 'native', KAFKA_TURBO_IO: 'uring' } },
      // The ring with a Buffer per drained batch, as before issue 15 item 2 (native batches off).
      { name: 'native/uring-buffers batched', kind: 'turbo-batched', env: { KAFKA_TURBO_BACKEND: 'native', KAFKA_TURBO_IO: 'uring', KAFKA_TURBO_NATIVE_BATCHES: '0' } },
      // The ring with its receive mode forced (the row above runs the default).
      { name: 'native/uring-ringrecv batched', kind: 'turbo-batched', env: { KAFKA_TURBO_BACKEND: 'native', KAFKA_TURBO_IO: 'uring', KAFKA_TURBO_IO_RECV: 'ring' } },
    );
  }
  // --taskrun plain,coop: the ring's other task-work modes as cases of their own (the default
  // rows run with 'defer', or what the kernel gives instead).
  for (const m of arg('taskrun', '').split(',').filter((x) => x)) {
    const env = { KAFKA_TURBO_BACKEND: 'native', KAFKA_TURBO_IO: 'uring', KAFKA_TURBO_IO_TASKRUN: m };
    all.push({ name: `floor/uring ${m}`, kind: 'floor', env }, { name: `native/uring ${m}`, kind: 'turbo', env });
  }
  const only = arg('cases', '');
  const cases = only ? all.filter((c) => only.split(',').includes(c.name) || (c.name.includes(' ') && !c.name.includes('batched')) || (batched > 0 && c.kind === 'turbo-batched')) : all;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const harness = require(join(__dirname, '..', '..', 'test', 'helpers', 'kafka', 'cluster.cjs'));
  const given = arg('bootstrap', '');
  const cluster = given ? await harness.connectCluster(given) : await harness.startCluster({ brokers: 1 });
  const { Kafka, logLevel } = require('kafkajs') as typeof import('kafkajs');
  const admin = new Kafka({ clientId: 'bench-check', brokers: [cluster.bootstrap], logLevel: logLevel.NOTHING }).admin();
  const rows = new Map<string, { p50: number[]; p99: number[]; cpu: number[]; rate: number[]; info: string }>();
  const dropped = new Map<string, string>();
  for (const c of cases) rows.set(c.name, { p50: [], p99: [], cpu: [], rate: [], info: '' });
  let k = 0;
  try {
    await admin.connect();
    for (let round = 0; round <= rounds; round++) {
      const shift = round % cases.length;
      const order = [...cases.slice(shift), ...cases.slice(0, shift)];
      for (const c of order) {
        if (dropped.has(c.name)) continue;
        const topic = `bench-latency-${Date.now().toString(36)}-${k++}`;
        await cluster.createTopic(topic, { partitions: 1 });
        let r: ChildResult;
        try {
          const n = c.kind === 'turbo-batched' ? batched : sends;
          r = await runCase(c, { BOOTSTRAP: cluster.bootstrap, TOPIC: topic, N: String(n), WARM: warm }, profDir);
        } catch (e) {
          // A case that cannot run here (no io_uring) is dropped with its reason, not hidden.
          dropped.set(c.name, (e as Error).message);
          continue;
        }
        const offsets = await admin.fetchTopicOffsets(topic);
        const stored = offsets.reduce((s, o) => s + Number(o.high) - Number(o.low), 0);
        if (stored !== r.sends) throw new Error(`${c.name}: ${stored} stored, ${r.sends} sent`);
        if (c.kind === 'turbo' || c.kind === 'turbo-batched') {
          const want = c.name.replace('fallback', 'fallback/net').replace(/ (plain|coop|defer)$/, '').replace(/-(ring|poll)recv/, '');
          if (r.info !== want) {
            dropped.set(c.name, `ran as ${r.info}, not ${want} (see backendInfo())`);
            continue;
          }
        }
        const wantRecv = c.env['KAFKA_TURBO_IO_RECV'];
        if (wantRecv !== undefined && r.recv !== wantRecv) {
          dropped.set(c.name, `received with ${r.recv ?? 'no ring'}, not ${wantRecv} (see backendInfo().ioReason)`);
          continue;
        }
        const label = round === 0 ? 'warm-up' : `round ${round}`;
        if (r.recordsPerSec !== undefined) {
          console.error(`${label} ${c.name}: ${Math.round(r.recordsPerSec)} records/s, ${r.cpuUsPerSend.toFixed(2)} µs CPU/record`);
        } else {
          console.error(`${label} ${c.name}: p50 ${Math.round(r.p50Us)} µs, p99 ${Math.round(r.p99Us)} µs, ${r.cpuUsPerSend.toFixed(1)} µs CPU/send`);
        }
        if (round > 0) {
          const row = rows.get(c.name)!;
          row.p50.push(r.p50Us);
          row.p99.push(r.p99Us);
          row.cpu.push(r.cpuUsPerSend);
          if (r.recordsPerSec !== undefined) row.rate.push(r.recordsPerSec);
        }
      }
    }
  } finally {
    await admin.disconnect().catch(() => {});
    if (!given) await cluster.stop();
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const f = rows.get('floor');
  const f50 = f && f.p50.length ? median(f.p50) : NaN;
  const f99 = f && f.p99.length ? median(f.p99) : NaN;
  console.log(`awaited single sends, ${sends} per case per round after ${warm} untimed, medians of ${rounds} rounds`);
  console.log('| case | p50 µs | p99 µs | p50 / floor | p99 / floor | client CPU µs/send |');
  console.log('|---|---|---|---|---|---|');
  for (const c of cases) {
    const r = rows.get(c.name)!;
    if (r.p50.length === 0 || c.kind === 'turbo-batched') continue;
    const p50 = median(r.p50);
    const p99 = median(r.p99);
    console.log(
      `| ${c.name} | ${Math.round(p50)} | ${Math.round(p99)} | ${(p50 / f50).toFixed(2)}× | ${(p99 / f99).toFixed(2)}× | ${median(r.cpu).toFixed(1)} |`,
    );
  }
  const net = rows.get('native/net batched');
  if (batched > 0 && net && net.rate.length > 0) {
    console.log(`\nbatched: ${batched} records per case per round (send() per record, ${BATCHED_WINDOW} unsettled), medians of ${rounds} rounds`);
    console.log('| case | records/s | client CPU µs/record | records/s vs native/net | CPU vs native/net |');
    console.log('|---|---|---|---|---|');
    for (const c of cases) {
      const r = rows.get(c.name)!;
      if (c.kind !== 'turbo-batched' || r.rate.length === 0) continue;
      console.log(
        `| ${c.name} | ${Math.round(median(r.rate))} | ${median(r.cpu).toFixed(2)} | ${(median(r.rate) / median(net.rate)).toFixed(2)}× | ${(median(r.cpu) / median(net.cpu)).toFixed(2)}× |`,
      );
    }
  }
  for (const [name, why] of dropped) console.log(`dropped ${name}: ${why}`);
}

benchMain(parent, child);
