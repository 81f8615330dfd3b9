/**
 * The process shape the end-to-end benches share: the parent starts (or is given) a broker and
 * runs every case in a fresh child process of the same file (`--child`), so one case's JIT state,
 * garbage and sockets never reach the next; the child prints one JSON line last on stdout.
 * Also the two send loops most benches time: calls kept in flight up to a cap, and sends
 * awaited one at a time.
 */
import { spawn } from 'node:child_process';

/** Runs `file --child` with `env` added; resolves with the JSON of its last stdout line. */
export function runChild<T>(
  file: string,
  env: Record<string, string>,
  opts: { timeoutMs?: number; execArgv?: string[] } = {},
): Promise<T> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [...(opts.execArgv ?? []), file, '--child'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    let timedOut = false;
    // A case that stops making progress (a lost acknowledgement) fails instead of hanging the run.
    const timeoutMs = opts.timeoutMs ?? 300_000;
    const timer = setTimeout(() => {
      timedOut = true;
      c.kill('SIGKILL');
    }, timeoutMs);
    c.stdout.on('data', (d) => (out += d));
    c.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    c.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) return reject(new Error(`case killed after ${Math.round(timeoutMs / 1000)} s without finishing`));
      if (code !== 0) return reject(new Error(`case failed (${signal ?? `exit ${code}`})`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!) as T);
      } catch (e) {
        reject(new Error(`case printed no JSON result: ${(e as Error).message}`));
      }
    });
  });
}

/** The file's entry point: `child` with --child, else `parent`; a failure exits 1. */
export function benchMain(parent: () => Promise<void>, child: () => Promise<void>): void {
  (process.argv.includes('--child') ? child : parent)().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

export interface LoopResult {
  acked: number;
  recordsPerSec: number;
  cpuUsPerRecord: number;
}

/**
 * Calls `send(i)` n times with at most `cap` unsettled, then `drain()` (a flush); times the
 * whole with process.cpuUsage for client CPU. A failed send ends the process: a bench must not
 * count what was not acknowledged.
 */
export async function sendInFlight(
  n: number,
  cap: number,
  send: (i: number) => Promise<unknown>,
  drain: () => Promise<unknown>,
): Promise<LoopResult> {
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  let inflight = 0;
  let acked = 0;
  let wake: (() => void) | null = null;
  const done = () => {
    acked++;
    inflight--;
    if (wake && inflight < cap) {
      const w = wake;
      wake = null;
      w();
    }
  };
  const fail = (e: unknown) => {
    console.error(e);
    process.exit(1);
  };
  for (let i = 0; i < n; i++) {
    if (inflight >= cap) await new Promise<void>((r) => (wake = r));
    inflight++;
    send(i).then(done, fail);
  }
  await drain();
  const c = process.cpuUsage(c0);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return { acked, recordsPerSec: n / secs, cpuUsPerRecord: (c.user + c.system) / n };
}

/** Awaits `send()` n times in a row; the latencies in µs, sorted ascending. */
export async function awaitedSends(n: number, send: () => Promise<unknown>): Promise<number[]> {
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await send();
    lat.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  return lat.sort((a, b) => a - b);
}
