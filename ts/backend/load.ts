/**
 * The one loader. It decides, once per process, which backend runs the hot path:
 *   1. KAFKA_TURBO_BACKEND=native|fallback forces a choice (native failing to load is then
 *      an error, not a silent fallback);
 *   2. otherwise the native addon, when it loads and passes its self-check;
 *   3. otherwise the pure-TypeScript fallback.
 * Every candidate refused on the way is kept, with its error as `cause`, and reported by
 * backendInfo(): a user asking "why am I on the slow path?" gets the answer.
 */
import type { Backend, BackendInfo, RefusedCandidate } from './types.js';
import { createFallbackBackend } from './fallback/index.js';

let chosen: Backend | undefined;

/** Native candidates, tried in order. Filled in by the native backend module when it exists;
 * kept as a list so that tests can hide the addon (see setNativeCandidatesForTest). */
type NativeFactory = (refused: RefusedCandidate[]) => Backend | null;
let nativeFactory: NativeFactory | null = null;

export function registerNativeFactory(factory: NativeFactory | null): void {
  nativeFactory = factory;
}

function pick(): Backend {
  const refused: RefusedCandidate[] = [];
  const forced = process.env['KAFKA_TURBO_BACKEND']?.trim().toLowerCase();
  if (forced && forced !== 'native' && forced !== 'fallback') {
    throw new Error(`KAFKA_TURBO_BACKEND must be "native" or "fallback", not ${JSON.stringify(forced)}`);
  }
  if (forced === 'fallback') {
    return createFallbackBackend({ reason: 'KAFKA_TURBO_BACKEND=fallback', refused });
  }
  if (nativeFactory) {
    const native = nativeFactory(refused);
    if (native) return native;
  } else {
    refused.push({ candidate: 'native', reason: 'this build has no native backend' });
  }
  if (forced === 'native') {
    const err = new Error(
      `KAFKA_TURBO_BACKEND=native but the native addon could not be used: ${refused.map((r) => `${r.candidate}: ${r.reason}`).join('; ')}`,
    );
    (err as { cause?: unknown }).cause = refused[refused.length - 1]?.cause;
    throw err;
  }
  return createFallbackBackend({ reason: 'the native addon is not available (see refused)', refused });
}

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
