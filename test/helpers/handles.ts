/**
 * What keeps this process alive: counts of the active resources Node reports
 * (process.getActiveResourcesInfo(): ref'd sockets, servers, connects in progress, ref'd
 * timers), so a test can check that close() left none of its own behind. Take a baseline
 * before the code under test creates anything, then, after close(), wait until no kind is
 * above it. Destroyed sockets stay listed until their close callback has run, hence the wait
 * instead of a single look.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { getBackend } from '../../ts/backend/load.js';
import { UringTransport } from '../../ts/net/transport-uring.js';

/** The kinds a producer can create: TCP sockets and servers, connects, TLS, timers, and
 * sockets on the native backend's io_uring ring (which Node does not list: counted here). */
export const PRODUCER_HANDLE_KINDS = ['TCPSocketWrap', 'TCPServerWrap', 'TCPWrap', 'ConnectWrap', 'TLSWrap', 'Timeout', 'Immediate', 'IoUringSocket'];

export type HandleCounts = Record<string, number>;

/** Active resources right now, counted by kind. */
export function handleCounts(): HandleCounts {
  const counts: HandleCounts = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  const transport = getBackend().transport;
  if (transport instanceof UringTransport) counts['IoUringSocket'] = transport.openSockets();
  return counts;
}

/** Kinds above the baseline, as 'Kind: now (baseline n)' strings; [] when none. */
export function handlesAbove(baseline: HandleCounts, kinds: readonly string[] = PRODUCER_HANDLE_KINDS): string[] {
  const now = handleCounts();
  const extra: string[] = [];
  for (const kind of kinds) {
    const n = now[kind] ?? 0;
    const b = baseline[kind] ?? 0;
    if (n > b) extra.push(`${kind}: ${n} (baseline ${b})`);
  }
  return extra;
}

/**
 * Resolves once no kind of `kinds` has more active resources than in `baseline`; rejects
 * after `timeoutMs` naming the kinds still above it.
 */
export async function assertNoHandlesAbove(
  baseline: HandleCounts,
  opts: { timeoutMs?: number; kinds?: readonly string[] } = {},
): Promise<void> {
  const until = Date.now() + (opts.timeoutMs ?? 2000);
  for (;;) {
    const extra = handlesAbove(baseline, opts.kinds);
    if (extra.length === 0) return;
    if (Date.now() > until) throw new Error(`resources left active: ${extra.join(', ')}`);
    await sleep(10);
  }
}
