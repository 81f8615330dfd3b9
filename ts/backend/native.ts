/**
 * The native addon, typed. This module only finds and loads the compiled addon and states
 * its shape; choosing between native and fallback (and keeping the reasons) is load.ts's
 * job, and the Backend built on top of the addon adds no logic of its own.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** What the kafka_turbo addon exports (native/src/binding/, one file per member). */
export interface NativeAddon {
  /** CRC32C (Castagnoli) of buf, continuing from `init` (0 to start); unsigned 32-bit. */
  crc32c(buf: Uint8Array, init?: number): number;
  /** The CRC32C level the addon picked at load (CPUID, or KAFKA_TURBO_CRC32C). */
  crc32cImpl(): 'avx512-vpclmul' | 'sse42' | 'table';
}

/**
 * The package root: the nearest directory at or above this file's that holds both
 * package.json and binding.gyp. The compiled file runs from dist/cjs/backend/ (the
 * package) or out/ts/backend/ (tests and benches), so the depth is not fixed.
 */
function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'binding.gyp'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(`kafka-turbo: no directory with package.json and binding.gyp above ${__dirname}`);
    }
    dir = parent;
  }
}

/**
 * Loads the addon: a prebuilt binary from prebuilds/ or the local build in build/Release
 * (node-gyp-build's order). Throws what node-gyp-build or the addon's init threw, e.g. when
 * KAFKA_TURBO_CRC32C forces a level this CPU lacks (code ERR_KAFKA_TURBO_CRC32C_LEVEL).
 */
export function loadNativeAddon(): NativeAddon {
  // node-gyp-build ships no types; its default export is load(dir) => the module.
  const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
  return nodeGypBuild(packageRoot()) as NativeAddon;
}
