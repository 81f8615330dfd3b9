/**
 * Record values for the end-to-end benches: JSON-like, all different (ids, users, events,
 * amounts vary), deterministic (every client sends the same bytes), so that codecs do real
 * work and no client gains from repeated values (bench/produce.bench.ts's 100-byte records too).
 */

/** `count` values of exactly `size` bytes each, back to back in one buffer. */
export function makeValueBlock(count: number, size: number): Buffer {
  const events = ['click', 'view', 'purchase', 'add_to_cart', 'search', 'login', 'logout', 'share'];
  const countries = ['DE', 'FR', 'US', 'BR', 'IN', 'JP', 'GB', 'ES', 'IT', 'NL'];
  const filler = 'the quick brown fox jumps over the lazy dog ';
  let seed = 0x2545f491;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const all = Buffer.alloc(count * size);
  for (let i = 0; i < count; i++) {
    const head =
      `{"id":${100000 + i},"user":"user-${rand(10000)}","event":"${events[rand(events.length)]}",` +
      `"amount":${rand(100000)},"country":"${countries[rand(countries.length)]}","note":"`;
    const tail = '"}';
    const fill = size - head.length - tail.length;
    if (fill < 0) throw new Error(`makeValueBlock: ${size} bytes is shorter than the value template (${head.length + tail.length})`);
    const start = rand(filler.length);
    const note = filler.repeat(Math.ceil((start + fill) / filler.length) + 1).slice(start, start + fill);
    all.write(head + note + tail, i * size, 'latin1');
  }
  return all;
}

/** The values of a block as views (no copies). */
export function splitValues(block: Buffer, size: number): Buffer[] {
  if (block.length % size !== 0) throw new Error(`splitValues: ${block.length} bytes is not a whole number of ${size}-byte values`);
  const out: Buffer[] = [];
  for (let off = 0; off < block.length; off += size) out.push(block.subarray(off, off + size));
  return out;
}
