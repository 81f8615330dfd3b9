/**
 * The one loader. It decides, once per process, which backend runs the hot path (and with
 * it the transport of plain-TCP connections, KAFKA_TURBO_IO=uring|net, see native-backend.ts):
 *   1. KAFKA_TURBO_BACKEND=native|fallback forces a choice (native failing to load is then
 *      an error, not a silent fallback);
 *   2. otherwise the native addon, when it loads and passes its self-check;
 *   3. otherwise the pure-TypeScript fallback.
 * Every candidate refused on the way is kept, with its error as `cause`, and reported by
 * backendInfo(): a user asking "why am I on the slow path?" gets the answer.
 */
import type { Backend, BackendInfo, RefusedCandidate } from './types.js';
import { createFallbackBackend } from './fallback/index.js';
import { loadNativeAddon, type NativeAddon } from './native.js';
import { netTransport, registerDefaultTransport } from '../net/transport.js';

let chosen: Backend | undefined;

/** Builds the native backend, or returns null after recording why it was refused. Tests may
 * replace it (registerNativeFactory) to see the fallback chosen. */
type NativeFactory = (refused: RefusedCandidate[]) => Backend | null;

interface NativeBackendModule {
  createNativeBackend(addon: NativeAddon, info: { reason: string; refused: RefusedCandidate[] }): Backend;
}

function loadNative(refused: RefusedCandidate[]): Backend | null {
  let mod: NativeBackendModule;
  try {
    // Required lazily: a package built without the native backend module still loads.
    mod = require('./native-backend.js') as NativeBackendModule;
  } catch (cause) {
    refused.push({ candidate: 'native', reason: 'this build has no native backend module', cause });
    return null;
  }
  let addon: NativeAddon;
  try {
    addon = loadNativeAddon();
  } catch (cause) {
    const message = (cause as Error)?.message ?? String(cause);
    const reason = /No native build was found/.test(message)
      ? 'no prebuilt binary for this platform and no local build (install a C++ toolchain and run `npm rebuild kafka-turbo`)'
      : `the addon failed to load: ${message.split('\n')[0]}`;
    refused.push({ candidate: 'native addon', reason, cause });
    return null;
  }
  try {
    return mod.createNativeBackend(addon, { reason: 'the native addon loaded and passed its CPU check', refused });
  } catch (cause) {
    refused.push({ candidate: 'native addon', reason: `the addon could not start: ${(cause as Error).message}`, cause });
    return null;
  }
}

let nativeFactory: NativeFactory = loadNative;

/** Tests only: replace how the native backend is built (e.g. to hide it). */
export function registerNativeFactory(factory: NativeFactory | null): void {
  nativeFactory = factory ?? loadNative;
}

function pick(): Backend {
  const refused: RefusedCandidate[] = [];
  const forced = process.env['KAFKA_TURBO_BACKEND']?.trim().toLowerCase();
  if (forced && forced !== 'native' && forced !== 'fallback') {
    throw new Error(`KAFKA_TURBO_BACKEND must be "native" or "fallback", not ${JSON.stringify(forced)}`);
  }
  const forcedIo = process.env['KAFKA_TURBO_IO']?.trim().toLowerCase();
  // Checked here, before any backend is tried: a typo must not read as "the addon could not
  // start" and switch to the fallback backend.
  if (forcedIo && forcedIo !== 'uring' && forcedIo !== 'net') {
    throw new Error(`KAFKA_TURBO_IO must be "uring" or "net", not ${JSON.stringify(forcedIo)}`);
  }
  const taskRun = process.env['KAFKA_TURBO_IO_TASKRUN']?.trim().toLowerCase();
  if (taskRun && taskRun !== 'defer' && taskRun !== 'coop' && taskRun !== 'plain') {
    throw new Error(`KAFKA_TURBO_IO_TASKRUN must be "defer", "coop" or "plain", not ${JSON.stringify(taskRun)}`);
  }
  const recv = process.env['KAFKA_TURBO_IO_RECV']?.trim().toLowerCase();
  if (recv && recv !== 'poll' && recv !== 'ring') {
    throw new Error(`KAFKA_TURBO_IO_RECV must be "poll" or "ring", not ${JSON.stringify(recv)}`);
  }
  if (forced === 'fallback') {
    if (forcedIo === 'uring') throw new Error('KAFKA_TURBO_IO=uring needs the native backend, but KAFKA_TURBO_BACKEND=fallback');
    return createFallbackBackend({ reason: 'KAFKA_TURBO_BACKEND=fallback', refused });
  }
  const native = nativeFactory(refused);
  if (native) return native;
  if (forced === 'native' || forcedIo === 'uring') {
    const err = new Error(
      `${forced === 'native' ? 'KAFKA_TURBO_BACKEND=native' : 'KAFKA_TURBO_IO=uring'} but the native addon could not be used: ${refused.map((r) => `${r.candidate}: ${r.reason}`).join('; ')}`,
    );
    (err as { cause?: unknown }).cause = refused[refused.length - 1]?.cause;
    throw err;
  }
  return createFallbackBackend({
    reason: `the native addon is not available: ${refused.map((r) => r.reason).join('; ')}`,
    refused,
  });
}

// Plain-TCP broker connections use the chosen backend's transport (io_uring on the native
// backend when the probe passed), node:net otherwise.
registerDefaultTransport(() => getBackend().transport ?? netTransport);

/** The backend this process uses, chosen at first call. */
export function getBackend(): Backend {
  chosen ??= pick();
  return chosen;
}

/** What was chosen and why. */
export function backendInfo(): BackendInfo {
  const info = getBackend().info;
  return { ...info, codecs: [...info.codecs], refused: info.refused.map((r) => ({ ...r })) };
}

/** Tests only: forget the choice so the next getBackend() picks again. */
export function resetBackendForTest(): void {
  chosen = undefined;
}
