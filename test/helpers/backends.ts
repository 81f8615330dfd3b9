/**
 * The backends a test should run against: always the fallback, and the native addon when it
 * is built here. Shared by unit, parity and integration tests (forEachBackend).
 */
import type { Backend } from '../../ts/backend/types.js';
import { createFallbackBackend } from '../../ts/backend/fallback/index.js';
import { createNativeBackend } from '../../ts/backend/native-backend.js';
import { resetBackendForTest } from '../../ts/backend/load.js';

export interface NamedBackend {
  name: 'native' | 'fallback';
  backend: Backend;
}

/** Whether this run must test the native backend: yes unless KAFKA_TURBO_TEST_BACKENDS (the
 * list scripts/test.mjs runs integration tests with) leaves it out. */
export function nativeExpected(): boolean {
  return (process.env['KAFKA_TURBO_TEST_BACKENDS'] ?? 'native').split(',').map((b) => b.trim()).includes('native');
}

/** The fallback, and the native backend unless the run leaves it out. A native backend that
 * fails to load throws here: its tests must fail, not silently disappear. */
export function availableBackends(): NamedBackend[] {
  const list: NamedBackend[] = [{ name: 'fallback', backend: createFallbackBackend({ reason: 'test', refused: [] }) }];
  if (nativeExpected()) list.push({ name: 'native', backend: createNativeBackend() });
  return list;
}

/** Producers built after this call use backend `name` (ProducerCore takes the backend the
 * loader picks when it is constructed; the loader is told which one here and forgets it on
 * restore()). */
export function useBackend(name: string): { restore: () => void } {
  const saved = process.env['KAFKA_TURBO_BACKEND'];
  process.env['KAFKA_TURBO_BACKEND'] = name;
  resetBackendForTest();
  return {
    restore: () => {
      if (saved === undefined) delete process.env['KAFKA_TURBO_BACKEND'];
      else process.env['KAFKA_TURBO_BACKEND'] = saved;
      resetBackendForTest();
    },
  };
}
