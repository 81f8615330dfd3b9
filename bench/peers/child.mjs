// One timed run of one Node.js peer, in its own process (started by run.mjs), so that one
// client's JIT state, heap, threads and sockets never colour another's numbers, and so that
// the parent can read this process's CPU from /proc (librdkafka's threads included).
//
// The run: open the client (connect, metadata) → warm-up for WARMUP ms at the case's shape →
// print {"ev":"t0"} → the same shape for SECONDS → print {"ev":"t1", ...} → close → print
// {"ev":"done", total}. The parent samples this process's and the brokers' CPU when it reads
// t0 and t1, and checks the topic's end offsets against `total` after the exit.
//
// Shapes (what a call is, and how many are kept in flight, is the case's):
//   inflight: calls of `perCall` messages, `inFlight` calls outstanding at any time, new calls
//             started as old ones settle, until the deadline; then the outstanding ones drain.
//   latency:  one message per call, each call awaited before the next; every call's time kept.
import { readFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const lib = require('../../out/bench/lib/values.js');
const { quantileSorted } = require('../../out/bench/lib/stats.js');

const ctx = JSON.parse(process.env.PEER_CTX);

function emit(obj) {
  // writeSync: the parent samples CPU when it reads the line, so the line must leave now.
  writeSync(1, JSON.stringify(obj) + '\n');
}

/**
 * Keeps `limit` calls in flight until `deadline` (performance.now() ms), then waits for the
 * last. Resolves with the records acknowledged; rejects with the first failure (after the
 * calls in flight have settled, so none is left running when the process closes the client).
 */
function keepInFlight(client, payloads, limit, deadline, cursor) {
  return new Promise((resolve, reject) => {
    let inflight = 0;
    let acked = 0;
    let failure = null;
    let pumping = false;
    const pump = () => {
      if (pumping) return; // a call that settled synchronously: the loop below picks up its slot
      pumping = true;
      while (failure === null && inflight < limit && performance.now() < deadline) {
        inflight++;
        const p = payloads[cursor.i++ % payloads.length];
        let r;
        try {
          r = client.call(p);
        } catch (e) {
          r = Promise.reject(e);
        }
        r.then(ok, bad);
      }
      pumping = false;
      if (inflight === 0) failure === null ? resolve(acked) : reject(failure);
    };
    const ok = (n) => {
      inflight--;
      acked += n;
      pump();
    };
    const bad = (e) => {
      inflight--;
      failure ??= e ?? new Error('a call failed without a reason');
      pump();
    };
    pump();
  });
}

async function awaitedLoop(client, payloads, deadline, cursor, samples) {
  let acked = 0;
  while (performance.now() < deadline) {
    const p = payloads[cursor.i++ % payloads.length];
    const t0 = process.hrtime.bigint();
    acked += await client.call(p);
    const us = Number(process.hrtime.bigint() - t0) / 1000;
    if (samples) samples.push(us);
  }
  return acked;
}

async function main() {
  const mod = await import(pathToFileURL(ctx.adapterFile).href);
  const variant = mod.variants().find((v) => v.id === ctx.variant);
  if (!variant) throw new Error(`no variant ${ctx.variant} in ${ctx.adapterFile}`);
  const block = readFileSync(ctx.valuesFile);
  const values = lib.splitValues(block, ctx.case.size);

  const client = await variant.open(ctx);
  // Calls are built before the clock (each library's own message objects), as an app that has
  // its records in hand would; the bench times sending them, not making them.
  const shape = ctx.case.shape;
  const batchedCalls = shape === 'inflight' && ctx.case.perCall > 1 && client.batchCalls;
  const perCall = batchedCalls ? ctx.case.perCall : 1;
  // A client with no multi-message call keeps the same number of records in flight instead.
  const limit = shape === 'latency' ? 1 : batchedCalls ? ctx.case.inFlight : ctx.case.inFlight * ctx.case.perCall;
  const payloads = [];
  for (let i = 0; i + perCall <= values.length; i += perCall) payloads.push(client.makeCall(values.slice(i, i + perCall)));
  const cursor = { i: 0 };
  const run = (ms, samples) => {
    const deadline = performance.now() + ms;
    return shape === 'latency' ? awaitedLoop(client, payloads, deadline, cursor, samples) : keepInFlight(client, payloads, limit, deadline, cursor);
  };

  let total = 0;
  try {
    total += await run(ctx.warmupMs, null);
    const samples = shape === 'latency' ? [] : null;
    emit({ ev: 't0' });
    const t0 = process.hrtime.bigint();
    const acked = await run(ctx.timedMs, samples);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const t1 = { ev: 't1', acked, seconds, perCall, inFlight: limit };
    if (samples) {
      const s = Float64Array.from(samples).sort();
      t1.latency = { n: s.length, p50: quantileSorted(s, 0.5), p99: quantileSorted(s, 0.99), p999: quantileSorted(s, 0.999), max: s[s.length - 1] };
    }
    emit(t1);
    total += acked;
  } finally {
    await client.close();
  }
  emit({ ev: 'done', total });
}

// Exit as soon as the run is reported: the client was closed above (close() awaited), and the
// parent judges the run by its t1/done lines and the broker's offsets, not by how long a
// library's leftover timers take to lapse.
main().then(
  () => process.exit(0),
  (e) => {
    console.error(e?.stack ?? e);
    process.exit(1);
  },
);
