/**
 * The backends a test should run against: always the fallback, and the native addon when it
 * is built here. Shared by unit, parity and integration tests (forEachBackend).
 */
import type { Backend } from '../../ts/backend/types.js';
import { createFallbackBackend } from '../../ts/backend/fallback/index.js';

export interface NamedBackend {
  name: 'native' | 'fallback';
  backend: Backend;
}

export function availableBackends(): NamedBackend[] {
  const list: NamedBackend[] = [{ name: 'fallback', backend: createFallbackBackend({ reason: 'test', refused: [] }) }];
  let native: Backend | null = null;
  try {
    // Optional until the native backend lands: required lazily so a missing module is no error here.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require('../../ts/backend/native-backend.js') as { createNativeBackend?: () => Backend };
    native = mod.createNativeBackend ? mod.createNativeBackend() : null;
  } catch {
    native = null;
  }
  if (native) list.push({ name: 'native', backend: native });
  return list;
}
