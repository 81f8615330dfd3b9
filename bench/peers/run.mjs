// The peers bench: kafka-turbo against every producer a user would pick instead (KafkaJS,
// @platformatic/kafka, @confluentinc/kafka-javascript, node-rdkafka, the Java producer and its
// ProducerPerformance), in one run, on the same broker, case by case, with charts.
//
//   npm run bench:peers [-- --quick] [--rounds 3] [--seconds 3] [--warmup 1]
//       [--cases one-per-call,batched,...] [--peers kafkajs,java,...] [--out DIR]
//
// The full run (3 rounds of 2.5 s + 1 s warm-up per client and case): 29.5 minutes on 2 cores
// at load average 15–27, an estimated 17–20 on a quieter machine (bench/peers/README.md);
// --quick (1 round, 0.7 s) about 5, for a smoke run (its output goes to a temp dir).
//
// Plain ESM, not compiled by the root's tsc: it and its adapters load the peers from
// bench/peers/node_modules (`npm run setup` there), which the root build must never need. It
// uses the root's build (dist/ for kafka-turbo, out/bench/lib/ for the shared bench pieces):
// `npm run bench:peers` builds first.
//
// Per case: a fresh topic per run (6 partitions, compression.type=producer so the broker keeps
// each client's codec), each run in its own process (child.mjs, or a JVM), a warm-up inside
// the run before the clock, then SECONDS timed. Before any case is timed, every case runs once
// untimed with one client, so the broker's JIT has seen every path (FACTS: a fresh broker spends
// 5–7× the CPU on its first runs). Rounds: every client once per case per round, the order of
// the clients rotated each round (and the order of the cases), so no client always follows the
// same one. A row is printed only for runs whose records the broker holds: the topic's end
// offsets, read with kcat (librdkafka, not our code), must add up to what the client reported
// acknowledged, warm-up included.
//
// Measured per run: records/s (acknowledged records / timed seconds, the last calls' drain
// included), client CPU per record (the client process's user+system CPU over the timed part,
// all threads, from /proc), broker CPU per record (the broker JVMs', the same way), and in the
// latency case each awaited send's time (p50/p99/p99.9). Rows show the median of the rounds
// with the smallest and largest round; charts (SVG, bars at the median, whiskers min–max) and
// a markdown table go to --out (bench/peers/charts for a full run).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = join(HERE, '..', '..');

for (const f of ['dist/cjs/index.js', 'out/bench/lib/stats.js']) {
  if (!existsSync(join(ROOT, f))) {
    console.error(`bench:peers: ${f} is missing: run \`npm run build\` at the root first (npm run bench:peers does).`);
    process.exit(2);
  }
}
if (!existsSync(join(HERE, 'node_modules'))) {
  console.error('bench:peers: the peers are not installed: run `npm run setup` in bench/peers (CKJS_LINKING=dynamic npm ci).');
  process.exit(2);
}

const { spread } = require(join(ROOT, 'out/bench/lib/stats.js'));
const { processCpuSeconds, totalCpuSeconds } = require(join(ROOT, 'out/bench/lib/proc-cpu.js'));
const { renderBarChart } = require(join(ROOT, 'out/bench/lib/svg-chart.js'));
const { makeValueBlock } = require(join(ROOT, 'out/bench/lib/values.js'));
const harness = require(join(ROOT, 'test/helpers/kafka/cluster.cjs'));

// ---------------------------------------------------------------------------------------------
// Arguments

const argv = process.argv.slice(2);
function arg(name, dflt) {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : dflt;
}
const QUICK = argv.includes('--quick');
const ROUNDS = Number(arg('rounds', QUICK ? '1' : '3'));
const TIMED_MS = Math.round(1000 * Number(arg('seconds', QUICK ? '0.7' : '2.5')));
const WARMUP_MS = Math.round(1000 * Number(arg('warmup', QUICK ? '0.3' : '1')));
const OUT = arg('out', QUICK ? join(tmpdir(), 'kafka-turbo-bench-peers-quick') : join(HERE, 'charts'));
const PARTITIONS = 6;
/** How long the brokers are warmed before the rounds, per broker of the cluster. */
const BROKER_WARMUP_MS = QUICK ? 3000 : 15_000;
if (!(ROUNDS >= 1) || !(TIMED_MS > 0) || !(WARMUP_MS >= 0)) throw new Error('--rounds, --seconds must be positive, --warmup not negative');

// ---------------------------------------------------------------------------------------------
// Cases

/**
 * shape 'inflight': calls of perCall messages, inFlight calls outstanding (a client without a
 * multi-message call keeps inFlight × perCall single sends outstanding instead);
 * shape 'latency': one message per call, awaited.
 */
const ALL_CASES = [
  { id: 'one-per-call', title: 'One message per call, 1000 calls in flight', shape: 'inflight', perCall: 1, inFlight: 1000, size: 100, codec: 'none', acks: 1, brokers: 1 },
  { id: 'batched', title: '1000 messages per call, 8 calls in flight', shape: 'inflight', perCall: 1000, inFlight: 8, size: 100, codec: 'none', acks: 1, brokers: 1 },
  { id: 'latency', title: 'Awaited single send', shape: 'latency', perCall: 1, inFlight: 1, size: 100, codec: 'none', acks: 1, brokers: 1 },
  // The same with linger.ms 0 for every client that lingers by default (librdkafka's and Java's
  // 5 ms is most of an awaited send on loopback): what a latency-minded app would set.
  { id: 'latency-linger0', title: 'Awaited single send, linger.ms 0', shape: 'latency', perCall: 1, inFlight: 1, size: 100, codec: 'none', acks: 1, brokers: 1, lingerMs: 0 },
  { id: '1kib', title: '1 KiB records, 1000 per call, 8 calls in flight', shape: 'inflight', perCall: 1000, inFlight: 8, size: 1024, codec: 'none', acks: 1, brokers: 1 },
  { id: 'lz4', title: 'lz4, 1000 messages per call, 8 calls in flight', shape: 'inflight', perCall: 1000, inFlight: 8, size: 100, codec: 'lz4', acks: 1, brokers: 1 },
  { id: 'zstd', title: 'zstd, 1000 messages per call, 8 calls in flight', shape: 'inflight', perCall: 1000, inFlight: 8, size: 100, codec: 'zstd', acks: 1, brokers: 1 },
  { id: 'acks-all-3', title: 'acks=all on 3 brokers, 1000 messages per call, 8 calls in flight', shape: 'inflight', perCall: 1000, inFlight: 8, size: 100, codec: 'none', acks: -1, brokers: 3 },
];
const caseFilter = arg('cases', '');
const CASES = caseFilter ? ALL_CASES.filter((c) => caseFilter.split(',').includes(c.id)) : ALL_CASES;
if (CASES.length === 0) throw new Error(`--cases: none of ${caseFilter} (have ${ALL_CASES.map((c) => c.id).join(', ')})`);

function caseSubtitle(c) {
  return `${c.size} B records, acks=${c.acks === -1 ? 'all' : c.acks}, ${c.codec === 'none' ? 'no compression' : c.codec}, ${c.brokers} broker${c.brokers > 1 ? 's' : ''}${c.lingerMs !== undefined ? `, linger.ms ${c.lingerMs}` : ''}`;
}

// ---------------------------------------------------------------------------------------------
// Peers: every adapters/*.mjs (common.mjs is shared code) gives one or more variants (rows).

const ADAPTER_ORDER = ['kafka-turbo', 'kafkajs', 'platformatic', 'confluent', 'node-rdkafka', 'java', 'raw-socket'];

async function loadVariants() {
  const files = readdirSync(join(HERE, 'adapters')).filter((f) => f.endsWith('.mjs') && f !== 'common.mjs');
  files.sort((a, b) => ADAPTER_ORDER.indexOf(a.replace('.mjs', '')) - ADAPTER_ORDER.indexOf(b.replace('.mjs', '')));
  const out = [];
  for (const f of files) {
    const file = join(HERE, 'adapters', f);
    const mod = await import(pathToFileURL(file).href);
    for (const v of mod.variants()) out.push({ ...v, adapterFile: file });
  }
  const peerFilter = arg('peers', '');
  return peerFilter ? out.filter((v) => peerFilter.split(',').some((p) => v.id === p || v.id.startsWith(`${p}-`))) : out;
}

// ---------------------------------------------------------------------------------------------
// Values: one file per record size, read by every client (Node and Java), so all send the same
// bytes; and the same values newline-delimited for ProducerPerformance's --payload-file.

function valueFiles(dir, size) {
  const count = size >= 1024 ? 8192 : 65536;
  const block = makeValueBlock(count, size);
  const bin = join(dir, `values-${size}.bin`);
  writeFileSync(bin, block);
  const lines = [];
  for (let i = 0; i < count; i++) lines.push(block.subarray(i * size, (i + 1) * size).toString('latin1'));
  const txt = join(dir, `values-${size}.txt`);
  writeFileSync(txt, lines.join('\n'));
  return { valuesFile: bin, payloadFile: txt };
}

// ---------------------------------------------------------------------------------------------
// One run

/** The records a topic holds, from its end offsets as kcat reads them (a fresh topic: low is 0). */
function endOffsetsSum(bootstrap, topic) {
  const args = ['-b', bootstrap, '-Q'];
  for (let p = 0; p < PARTITIONS; p++) args.push('-t', `${topic}:${p}:-1`);
  const out = execFileSync('kcat', args, { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
  let sum = 0;
  let seen = 0;
  for (const line of out.split('\n')) {
    const m = /^(\S+) \[(\d+)\] offset (-?\d+)$/.exec(line.trim());
    if (m && m[1] === topic) {
      if (Number(m[3]) < 0) throw new Error(`kcat: partition ${m[2]} has no end offset (${line.trim()})`);
      sum += Number(m[3]);
      seen++;
    }
  }
  if (seen !== PARTITIONS) throw new Error(`kcat answered for ${seen} of ${PARTITIONS} partitions: ${out.trim()}`);
  return sum;
}

let topicSeq = 0;

async function runOne(cluster, brokerPids, c, v, files, timing) {
  const topic = `peers-${c.id}-${v.id}-${Date.now().toString(36)}-${topicSeq++}`;
  await cluster.createTopic(topic, { partitions: PARTITIONS, configs: { 'compression.type': 'producer' } });
  const ctx = {
    adapterFile: v.adapterFile,
    variant: v.id,
    case: c,
    bootstrap: cluster.bootstrap,
    topic,
    valuesFile: files.valuesFile,
    payloadFile: files.payloadFile,
    warmupMs: timing.warmupMs,
    timedMs: timing.timedMs,
  };
  const { cmd, args } = v.command ? v.command(ctx) : { cmd: process.execPath, args: [join(HERE, 'child.mjs')] };
  const child = spawn(cmd, args, { cwd: HERE, env: { ...process.env, PEER_CTX: JSON.stringify(ctx) }, stdio: ['ignore', 'pipe', 'pipe'] });
  const sample = () => ({ at: performance.now(), client: processCpuSeconds(child.pid), broker: totalCpuSeconds(brokerPids) });
  let s0 = null;
  let s1 = null;
  let t1 = null;
  let done = null;
  let sampleError = null;
  let stderr = '';
  let buf = '';
  child.stdout.on('data', (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.startsWith('{"ev"')) continue; // ProducerPerformance's own report lines
      const msg = JSON.parse(line);
      try {
        if (msg.ev === 't0') s0 = sample();
        else if (msg.ev === 't1') {
          s1 = sample();
          t1 = msg;
        } else if (msg.ev === 'done') done = msg;
      } catch (e) {
        sampleError ??= e;
      }
    }
  });
  child.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  // A run that stops making progress fails instead of hanging the bench.
  const limitMs = timing.warmupMs + timing.timedMs + 90_000;
  const code = await new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? signal);
    });
  });
  const why = (m) => new Error(`${m}${stderr.trim() ? `\n    ${stderr.trim().split('\n').slice(-6).join('\n    ')}` : ''}`);
  if (code !== 0) throw why(`exited with ${code}${code === 'SIGKILL' ? ` (killed after ${Math.round(limitMs / 1000)} s)` : ''}`);
  if (sampleError) throw why(`CPU sampling failed: ${sampleError.message}`);
  if (!s0 || !s1 || !t1 || !done) throw why('the run did not report t0, t1 and done');
  if (!(t1.acked > 0)) throw why('no record was acknowledged in the timed part');
  const stored = endOffsetsSum(cluster.bootstrap, topic);
  if (stored !== done.total) throw why(`the topic holds ${stored} records, the client reported ${done.total} acknowledged`);
  return {
    recordsPerSec: t1.acked / t1.seconds,
    clientCpuUs: ((s1.client - s0.client) * 1e6) / t1.acked,
    brokerCpuUs: ((s1.broker - s0.broker) * 1e6) / t1.acked,
    latency: t1.latency ?? null,
    acked: t1.acked,
    seconds: t1.seconds,
    perCall: t1.perCall,
    inFlight: t1.inFlight,
  };
}

// ---------------------------------------------------------------------------------------------
// Output

const fmtInt = (x) => Math.round(x).toLocaleString('en-US');
const fmt2 = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const fmtUs = (x) => (x >= 1000 ? `${(x / 1000).toFixed(x >= 10_000 ? 1 : 2)} ms` : `${x.toFixed(0)} µs`);
const range = (s, f) => `${f(s.median)} (${f(s.min)}–${f(s.max)})`;

function summarize(c, variants, results) {
  const rows = [];
  for (const v of variants) {
    const rs = results.filter((r) => r.caseId === c.id && r.variant === v.id);
    if (rs.length === 0) continue;
    const row = {
      v,
      n: rs.length,
      rps: spread(rs.map((r) => r.recordsPerSec)),
      client: spread(rs.map((r) => r.clientCpuUs)),
      broker: spread(rs.map((r) => r.brokerCpuUs)),
      perCall: rs[0].perCall,
      inFlight: rs[0].inFlight,
    };
    if (c.shape === 'latency') {
      row.p50 = spread(rs.map((r) => r.latency.p50));
      row.p99 = spread(rs.map((r) => r.latency.p99));
      row.p999 = spread(rs.map((r) => r.latency.p999));
      row.samples = Math.min(...rs.map((r) => r.latency.n));
    }
    rows.push(row);
  }
  return rows;
}

function markdownTable(c, rows) {
  const lines = [`#### ${c.title} (${caseSubtitle(c)})`, ''];
  const runs = (r) => (r.n < ROUNDS ? ` (${r.n} of ${ROUNDS} rounds)` : '');
  const shape = (r) => (c.shape === 'latency' ? '' : r.perCall ? ` | ${r.perCall} × ${r.inFlight}` : ' | as buffer.memory allows');
  if (c.shape === 'latency') {
    lines.push('| client | p50 | p99 | p99.9 | sends/s | client CPU µs/send | broker CPU µs/send |', '|---|---|---|---|---|---|---|');
    for (const r of rows) {
      lines.push(
        `| ${r.v.label}${runs(r)} | ${range(r.p50, fmtUs)} | ${range(r.p99, fmtUs)} | ${range(r.p999, fmtUs)} | ${fmtInt(r.rps.median)} | ${fmt2(r.client.median)} | ${fmt2(r.broker.median)} |`,
      );
    }
  } else {
    lines.push('| client | records/s | client CPU µs/record | broker CPU µs/record | records per call × in flight |', '|---|---|---|---|---|');
    for (const r of rows) {
      lines.push(`| ${r.v.label}${runs(r)} | ${range(r.rps, fmtInt)} | ${range(r.client, fmt2)} | ${range(r.broker, fmt2)}${shape(r)} |`);
    }
  }
  lines.push('');
  return lines.join('\n');
}

function writeCharts(c, rows) {
  const base = (r, s) => ({ label: r.v.label, median: s.median, min: s.min, max: s.max, reference: !!r.v.reference, highlight: !!r.v.highlight });
  const sub = `${caseSubtitle(c)} · median of ${ROUNDS} round${ROUNDS > 1 ? 's' : ''}`;
  const written = [];
  if (c.shape === 'latency') {
    for (const [key, name] of [['p50', 'p50'], ['p99', 'p99']]) {
      const file = join(OUT, `${c.id}-${key}.svg`);
      writeFileSync(file, renderBarChart({ title: `${c.title}: ${name} latency (lower is better)`, subtitle: sub, format: fmtUs, rows: rows.map((r) => base(r, r[key])) }));
      written.push(file);
    }
  } else {
    const file = join(OUT, `${c.id}.svg`);
    writeFileSync(file, renderBarChart({ title: `${c.title}: records/s (higher is better)`, subtitle: sub, format: (x) => fmtInt(x), rows: rows.map((r) => base(r, r.rps)) }));
    written.push(file);
  }
  return written;
}

// ---------------------------------------------------------------------------------------------
// The run

async function main() {
  const started = new Date();
  const t0 = performance.now();
  const variants = await loadVariants();
  // Which (case, variant) pairs run; the others are dropped with a printed note.
  const plan = new Map();
  const notes = [];
  for (const c of CASES) {
    const list = [];
    for (const v of variants) {
      const why = await v.supports(c);
      if (why) {
        // Rows that belong to some cases by design (the floor to the latency case,
        // ProducerPerformance to the batched ones, as README.md says) need no note elsewhere.
        if (v.reference || v.id === 'java-perf') continue;
        notes.push(`${c.id} / ${v.label}: not run — ${why}`);
      } else list.push(v);
    }
    plan.set(c.id, list);
  }
  for (const v of variants) if (v.prepare && [...plan.values()].some((l) => l.includes(v))) v.prepare();
  for (const n of notes) console.error(`note: ${n}`);

  const work = join(tmpdir(), `kafka-turbo-bench-peers-${process.pid}`);
  mkdirSync(work, { recursive: true });
  mkdirSync(OUT, { recursive: true });
  const files = new Map();
  for (const c of CASES) if (!files.has(c.size)) files.set(c.size, valueFiles(work, c.size));

  const results = [];
  const failures = [];
  try {
    await runRounds(plan, files, results, failures);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  report(started, t0, variants, plan, notes, results, failures);
}

async function runRounds(plan, files, results, failures) {
  for (const brokers of [1, 3]) {
    const cases = CASES.filter((c) => c.brokers === brokers);
    if (cases.length === 0) continue;
    console.error(`starting the ${brokers}-broker cluster`);
    const cluster = await harness.startCluster({ brokers, log: (l) => console.error(`[kafka] ${l}`) });
    try {
      const brokerPids = cluster.nodes.map((n) => n.proc.pid);
      // The brokers' warm-up: every case untimed with the first client that runs it, over and
      // over until BROKER_WARMUP_MS of it have passed (a fresh JVM's first minute is slow; three
      // of them on 2 cores slower still), so every path the rounds take has been compiled.
      const warmStart = performance.now();
      for (let pass = 0; pass === 0 || performance.now() - warmStart < BROKER_WARMUP_MS * brokers; pass++) {
        for (const c of cases) {
          const v = plan.get(c.id)[0];
          if (!v) continue;
          try {
            await runOne(cluster, brokerPids, c, v, files.get(c.size), { warmupMs: 0, timedMs: Math.max(1000, TIMED_MS) });
            console.error(`broker warm-up ${pass + 1}: ${c.id} / ${v.label}: done`);
          } catch (e) {
            console.error(`broker warm-up ${pass + 1}: ${c.id} / ${v.label}: FAILED: ${e.message}`);
          }
        }
      }
      for (let round = 0; round < ROUNDS; round++) {
        const caseOrder = cases.map((_, i) => cases[(i + round) % cases.length]);
        for (const [ci, c] of caseOrder.entries()) {
          const list = plan.get(c.id);
          const order = list.map((_, i) => list[(i + round + ci) % list.length]);
          for (const v of order) {
            const label = `round ${round + 1}/${ROUNDS} ${c.id} / ${v.label}`;
            try {
              const r = await runOne(cluster, brokerPids, c, v, files.get(c.size), { warmupMs: WARMUP_MS, timedMs: TIMED_MS });
              results.push({ caseId: c.id, variant: v.id, round, ...r });
              const lat = r.latency ? `, p50 ${fmtUs(r.latency.p50)} p99 ${fmtUs(r.latency.p99)} p99.9 ${fmtUs(r.latency.p999)}` : '';
              console.error(`${label}: ${fmtInt(r.recordsPerSec)} records/s, client ${fmt2(r.clientCpuUs)} µs/record, broker ${fmt2(r.brokerCpuUs)} µs/record${lat}`);
            } catch (e) {
              failures.push(`${label}: ${e.message}`);
              console.error(`${label}: FAILED: ${e.message}`);
            }
          }
        }
      }
    } finally {
      await cluster.stop();
    }
  }
}

function report(started, t0, variants, plan, notes, results, failures) {
  const minutes = (performance.now() - t0) / 60_000;
  const md = [];
  const command = `npm run bench:peers${argv.length ? ` -- ${argv.join(' ')}` : ''}`;
  md.push(
    `Run ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${minutes.toFixed(1)} min: \`${command}\`, ` +
      `${ROUNDS} round${ROUNDS > 1 ? 's' : ''}, ${WARMUP_MS / 1000} s warm-up + ${TIMED_MS / 1000} s timed per run, Node ${process.version}, Kafka ${harness.kafkaVersion()}.`,
    '',
  );
  const charts = [];
  for (const c of CASES) {
    const rows = summarize(c, plan.get(c.id), results);
    if (rows.length === 0) continue;
    md.push(markdownTable(c, rows));
    charts.push(...writeCharts(c, rows));
  }
  md.push('Settings (acks and codec as each case says):', '');
  for (const v of variants) md.push(`- ${v.label}: ${v.settings(CASES.find((c) => c.shape === 'inflight') ?? CASES[0])}`);
  if (notes.length) md.push('', ...notes.map((n) => `- ${n}`));
  if (failures.length) md.push('', ...failures.map((f) => `- FAILED: ${f.split('\n')[0]}`));
  md.push('');
  const text = md.join('\n');
  writeFileSync(join(OUT, 'results.md'), text);
  writeFileSync(join(OUT, 'results.json'), JSON.stringify({ started, minutes, argv, rounds: ROUNDS, timedMs: TIMED_MS, warmupMs: WARMUP_MS, cases: CASES, results }, null, 1) + '\n');
  console.log(text);
  console.error(`charts and tables in ${OUT} (${charts.length} SVG files)`);
  if (failures.length) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
