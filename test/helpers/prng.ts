/**
 * A seeded pseudo-random generator for tests (mulberry32): small, fast and good enough to
 * pick sizes, partitions and call shapes, and the same sequence for the same seed on every
 * backend and run, so a failure can be replayed.
 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
