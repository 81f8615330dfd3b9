/**
 * The pure-TypeScript codecs (ts/compression/): round trips at every level range end, the
 * framing Kafka expects byte for byte where it is fixed (xerial header, LZ4 frame header with
 * its checksum computed here independently), what other clients write (raw snappy, dependent
 * LZ4 blocks, zstd frames without a content size), clear errors for bad levels, missing
 * packages and corrupt input; and a cross-check against the native codecs: bytes the C++
 * codecs compress decompress here, and bytes compressed here decompress there (through the
 * C test binary's --dump / --check modes, built by native/test/build-compress.sh).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { before, describe, it } from 'node:test';
import { CodecId } from '../../../ts/backend/types.js';
import {
  availableCodecs,
  CODEC_PACKAGES,
  codecFor,
  codecName,
  initCodecs,
  LEVELS,
  validateLevel,
  type Codec,
  type CodecName,
  type PackageLoader,
} from '../../../ts/compression/index.js';
import { zstdFrames } from '../../../ts/compression/zstd.js';

// ---- inputs -------------------------------------------------------------------------------------

function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

function random(n: number, seed: number): Buffer {
  const next = xorshift(seed);
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = next() >>> 24;
  return b;
}

/** ~100-byte JSON records, one per line: what Kafka batches usually hold. */
function jsonLike(n: number, seed: number): Buffer {
  const next = xorshift(seed);
  const events = ['click', 'view', 'purchase', 'signup', 'logout'];
  let s = '';
  while (s.length < n) {
    s += `{"id":${next() % 1_000_000},"user":"user-${next() % 5000}","event":"${events[next() % 5]}","ts":${
      1732590000000 + (next() % 100_000_000)
    },"amount":${next() % 1000}.${String(next() % 100).padStart(2, '0')}}\n`;
  }
  return Buffer.from(s.slice(0, n));
}

const INPUTS: ReadonlyArray<{ name: string; data: Buffer }> = [
  { name: 'empty', data: Buffer.alloc(0) },
  { name: '1 byte', data: Buffer.from([0x2a]) },
  { name: '100 B JSON', data: jsonLike(100, 1) },
  { name: '64 KiB + 1 JSON', data: jsonLike(64 * 1024 + 1, 2) },
  { name: '1 MiB JSON', data: jsonLike(1024 * 1024, 3) },
  { name: '300 KiB random', data: random(300 * 1024, 4) },
  { name: '16 KiB JSON', data: jsonLike(16 * 1024, 5) },
  { name: '128 KiB zeros', data: Buffer.alloc(128 * 1024) },
];

/** Each codec's levels worth a round trip: range ends, the default, and one in between. */
const LEVELS_TO_TRY: Readonly<Record<CodecName, ReadonlyArray<number | undefined>>> = {
  gzip: [undefined, LEVELS.gzip.min, LEVELS.gzip.max, -1, 6],
  snappy: [undefined],
  lz4: [undefined, LEVELS.lz4.min, LEVELS.lz4.max],
  zstd: [undefined, LEVELS.zstd.min, -5, 1, LEVELS.zstd.max],
};

const CODECS: readonly CodecId[] = [CodecId.Gzip, CodecId.Snappy, CodecId.Lz4, CodecId.Zstd];

// ---- an XXH32 of our own, to check the LZ4 header checksum independently ----------------------

/** XXH32 from the specification, with BigInt arithmetic: slow, but shares nothing with
 * ts/compression/xxhash32.ts. */
function xxh32Reference(data: Uint8Array, seed = 0n): number {
  const M = 0xffffffffn;
  const P1 = 2654435761n;
  const P2 = 2246822519n;
  const P3 = 3266489917n;
  const P4 = 668265263n;
  const P5 = 374761393n;
  const rotl = (x: bigint, r: bigint) => ((x << r) | (x >> (32n - r))) & M;
  const u32 = (i: number) =>
    BigInt(data[i]) | (BigInt(data[i + 1]) << 8n) | (BigInt(data[i + 2]) << 16n) | (BigInt(data[i + 3]) << 24n);
  let i = 0;
  let acc: bigint;
  if (data.length >= 16) {
    const v = [(seed + P1 + P2) & M, (seed + P2) & M, seed, (seed - P1) & M];
    for (; i + 16 <= data.length; i += 16) {
      for (let k = 0; k < 4; k++) v[k] = (rotl((v[k] + u32(i + 4 * k) * P2) & M, 13n) * P1) & M;
    }
    acc = (rotl(v[0], 1n) + rotl(v[1], 7n) + rotl(v[2], 12n) + rotl(v[3], 18n)) & M;
  } else {
    acc = (seed + P5) & M;
  }
  acc = (acc + BigInt(data.length)) & M;
  for (; i + 4 <= data.length; i += 4) acc = (rotl((acc + u32(i) * P3) & M, 17n) * P4) & M;
  for (; i < data.length; i++) acc = (rotl((acc + BigInt(data[i]) * P5) & M, 11n) * P1) & M;
  acc ^= acc >> 15n;
  acc = (acc * P2) & M;
  acc ^= acc >> 13n;
  acc = (acc * P3) & M;
  acc ^= acc >> 16n;
  return Number(acc);
}

// ---- helpers ------------------------------------------------------------------------------------

const expectCorrupt = (fn: () => unknown, what: string): void => {
  assert.throws(fn, (e: unknown) => (e as { code?: string }).code === 'CORRUPT_COMPRESSED_DATA', what);
};

/** A loader that pretends `missing` is not installed, the way require() says it. */
function loaderWithout(missing: string): PackageLoader {
  return (name) => {
    if (name === missing) {
      const e = new Error(`Cannot find module '${name}'`) as Error & { code: string };
      e.code = 'MODULE_NOT_FOUND';
      throw e;
    }
    return require(name) as unknown;
  };
}

before(async () => {
  await initCodecs();
});

// ---- tests --------------------------------------------------------------------------------------

describe('codecs round-trip', () => {
  for (const id of CODECS) {
    const name = codecName(id);
    for (const level of LEVELS_TO_TRY[name]) {
      it(`${name} level ${level ?? 'default'}: every input`, () => {
        const codec = codecFor(id);
        assert.equal(codec.id, id);
        assert.equal(codec.name, name);
        for (const { name: what, data } of INPUTS) {
          // zstd 22 on a megabyte in WebAssembly takes seconds; 64 KiB + 1 covers the level.
          if (name === 'zstd' && level === 22 && data.length > 100_000) continue;
          const z = codec.compress(data, level);
          assert.ok(Buffer.isBuffer(z), `${what}: compress returns a Buffer`);
          const back = codec.decompress(z);
          assert.ok(back.equals(data), `${what}: round trip (${data.length} -> ${z.length} -> ${back.length})`);
        }
      });
    }
    it(`${name}: JSON shrinks, random data does not blow up`, () => {
      const codec = codecFor(id);
      const json = jsonLike(64 * 1024, 9);
      assert.ok(codec.compress(json).length < json.length / 2, 'JSON compresses to under half');
      const rnd = random(64 * 1024, 10);
      assert.ok(codec.compress(rnd).length < rnd.length + 1024, 'incompressible data grows only by framing');
    });
  }

  it('zstd levels reach the library: level 19 beats level -131072 on JSON', () => {
    const zstd = codecFor(CodecId.Zstd);
    const json = jsonLike(64 * 1024, 12);
    assert.ok(zstd.compress(json, 19).length < zstd.compress(json, -131072).length);
  });

  it('gzip levels reach zlib: level 9 beats level 1 on JSON', () => {
    const gzip = codecFor(CodecId.Gzip);
    const json = jsonLike(64 * 1024, 13);
    assert.ok(gzip.compress(json, 9).length < gzip.compress(json, 1).length);
  });

  it('compress and decompress take views into a larger buffer', () => {
    const backing = jsonLike(40_000, 14);
    const view = backing.subarray(1234, 30_001);
    for (const id of CODECS) {
      const codec = codecFor(id);
      const z = codec.compress(view);
      const padded = Buffer.concat([Buffer.from('xxxxxxx'), z, Buffer.from('yyy')]);
      assert.ok(codec.decompress(padded.subarray(7, 7 + z.length)).equals(view), codec.name);
    }
  });
});

describe('snappy: xerial framing', () => {
  const snappy = (): Codec => codecFor(CodecId.Snappy);
  const HEADER = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);

  it('opens with the xerial header; empty input is the header alone', () => {
    assert.deepEqual(snappy().compress(Buffer.alloc(0)), HEADER);
    const z = snappy().compress(jsonLike(1000, 20));
    assert.ok(z.subarray(0, 16).equals(HEADER));
  });

  it('cuts the input into chunks of at most 32 KiB, each [int32 BE length][raw block]', () => {
    const data = jsonLike(200 * 1024 + 7, 21);
    const z = snappy().compress(data);
    let pos = 16;
    const sizes: number[] = [];
    while (pos < z.length) {
      const len = z.readInt32BE(pos);
      pos += 4;
      // A raw block opens with its uncompressed length as a varint.
      let n = 0;
      for (let shift = 0, p = pos; ; shift += 7, p++) {
        n += (z[p] & 0x7f) * 2 ** shift;
        if ((z[p] & 0x80) === 0) break;
      }
      sizes.push(n);
      pos += len;
    }
    assert.equal(pos, z.length, 'chunks end exactly at the end');
    assert.deepEqual(sizes, [...Array(6).fill(32 * 1024), 200 * 1024 + 7 - 6 * 32 * 1024]);
  });

  it('decompresses a raw snappy block (no framing), built here by hand and by snappyjs', () => {
    // varint 5, literal tag (5 - 1) << 2, "hello"
    assert.equal(snappy().decompress(Buffer.from([0x05, 0x10, ...Buffer.from('hello')])).toString(), 'hello');
    // varint 12, literal "abcd", copy-1 (length 8, offset 4): tag 0b000_100_01, offset low byte 4
    assert.equal(
      snappy()
        .decompress(Buffer.from([0x0c, 0x0c, ...Buffer.from('abcd'), 0x11, 0x04]))
        .toString(),
      'abcdabcdabcd',
    );
    const data = jsonLike(100 * 1024, 22);
    const raw = (require('snappyjs') as { compress(b: Buffer): Buffer }).compress(data);
    assert.ok(snappy().decompress(raw).equals(data));
  });

  it('decompresses xerial streams written one after another', () => {
    const a = jsonLike(5000, 23);
    const b = jsonLike(70_000, 24);
    const z = Buffer.concat([snappy().compress(a), snappy().compress(b)]);
    assert.ok(snappy().decompress(z).equals(Buffer.concat([a, b])));
  });

  it('refuses truncated and corrupt streams with a clear error', () => {
    const z = snappy().compress(jsonLike(50_000, 25));
    expectCorrupt(() => snappy().decompress(z.subarray(0, 18)), 'cut in a chunk length');
    expectCorrupt(() => snappy().decompress(z.subarray(0, z.length - 1)), 'cut in a block');
    const bad = Buffer.from(z);
    bad.writeInt32BE(0x7fffffff, 16);
    expectCorrupt(() => snappy().decompress(bad), 'chunk length past the end');
    expectCorrupt(() => snappy().decompress(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), 'bad varint');
  });
});

describe('lz4: frame format', () => {
  const lz4 = (): Codec => codecFor(CodecId.Lz4);

  it('writes the Java client header: magic, FLG 0x60, BD 0x40, checksum of FLG+BD', () => {
    const z = lz4().compress(jsonLike(1000, 30));
    assert.equal(z.readUInt32LE(0), 0x184d2204, 'magic');
    assert.equal(z[4], 0x60, 'FLG: version 01, independent blocks, no checksums, no content size');
    assert.equal(z[5], 0x40, 'BD: 64 KiB blocks');
    assert.equal(z[6], (xxh32Reference(z.subarray(4, 6)) >>> 8) & 0xff, 'HC = (XXH32(FLG BD) >> 8) & 0xFF');
    assert.deepEqual([...z.subarray(0, 7)], [0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82]);
    assert.deepEqual([...lz4().compress(Buffer.alloc(0))], [0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82, 0, 0, 0, 0]);
  });

  it('the reference XXH32 matches the published test vectors', () => {
    assert.equal(xxh32Reference(Buffer.alloc(0)), 0x02cc5d05);
    assert.equal(xxh32Reference(Buffer.from('a')), 0x550d7456);
    assert.equal(xxh32Reference(Buffer.from('abc')), 0x32d153ff);
    assert.equal(xxh32Reference(Buffer.from('Nobody inspects the spammish repetition')), 0xe2293b2f);
  });

  it('one block per 64 KiB, stored as it is when it does not shrink, then the end mark', () => {
    for (const [data, allStored] of [
      [jsonLike(300_000, 31), false],
      [random(200_000, 32), true],
    ] as const) {
      const z = lz4().compress(data);
      let pos = 7;
      let blocks = 0;
      let stored = 0;
      for (;;) {
        const w = z.readUInt32LE(pos);
        pos += 4;
        if (w === 0) break;
        const size = w & 0x7fffffff;
        assert.ok(size <= 65536, 'block within 64 KiB');
        if (w & 0x80000000) stored++;
        blocks++;
        pos += size;
      }
      assert.equal(pos, z.length, 'end mark is the last thing');
      assert.equal(blocks, Math.ceil(data.length / 65536));
      if (allStored) assert.equal(stored, blocks, 'incompressible blocks are stored');
      else assert.equal(stored, 0);
    }
  });

  /** A frame around hand-written blocks; FLG 0x40 makes the blocks dependent. */
  function frame(flg: number, blocks: Buffer[], legacyChecksum = false): Buffer {
    const header = Buffer.from([0x04, 0x22, 0x4d, 0x18, flg, 0x40, 0]);
    header[6] = (xxh32Reference(legacyChecksum ? header.subarray(0, 6) : header.subarray(4, 6)) >>> 8) & 0xff;
    const parts: Buffer[] = [header];
    for (const b of blocks) {
      const size = Buffer.alloc(4);
      size.writeUInt32LE(b.length);
      parts.push(size, b);
    }
    parts.push(Buffer.alloc(4));
    return Buffer.concat(parts);
  }
  // Block 1: the literals "0123456789abcdef" (token 0xF0, extension 1, 16 literals).
  const block1 = Buffer.from([0xf0, 0x01, ...Buffer.from('0123456789abcdef')]);
  // Block 2: a match of 8 at offset 16 (into block 1), then the literals "world".
  const block2 = Buffer.from([0x04, 0x10, 0x00, 0x50, ...Buffer.from('world')]);

  it('decodes dependent blocks (matches into the previous block) and refuses them in an independent frame', () => {
    assert.equal(lz4().decompress(frame(0x40, [block1, block2])).toString(), '0123456789abcdef01234567world');
    expectCorrupt(() => lz4().decompress(frame(0x60, [block1, block2])), 'independent blocks cannot reach back');
  });

  it('accepts the pre-KIP-57 header checksum, refuses any other wrong one', () => {
    assert.equal(lz4().decompress(frame(0x60, [block1], true)).toString(), '0123456789abcdef');
    const bad = frame(0x60, [block1]);
    bad[6] ^= 0x01;
    if (bad[6] !== frame(0x60, [block1], true)[6]) expectCorrupt(() => lz4().decompress(bad), 'bad header checksum');
  });

  it('refuses bad magic, reserved bits, dictionaries, oversized blocks and truncation', () => {
    const good = lz4().compress(jsonLike(100_000, 33));
    const patched = (at: number, v: number): Buffer => {
      const b = Buffer.from(good);
      b[at] = v;
      return b;
    };
    expectCorrupt(() => lz4().decompress(patched(0, 0x05)), 'magic');
    expectCorrupt(() => lz4().decompress(frame(0x62, [block1])), 'reserved FLG bit');
    expectCorrupt(() => lz4().decompress(frame(0x80, [block1])), 'version 10');
    expectCorrupt(() => lz4().decompress(frame(0x61, [block1])), 'dictionary id');
    for (const cut of [0, 3, 6, 7, 10, 50, good.length - 4, good.length - 1]) {
      expectCorrupt(() => lz4().decompress(good.subarray(0, cut)), `cut at ${cut}`);
    }
    const huge = Buffer.from(good);
    huge.writeUInt32LE(65537, 7);
    expectCorrupt(() => lz4().decompress(huge), 'block larger than the frame allows');
    // A match offset of 0 and a literal run past the block's end.
    expectCorrupt(() => lz4().decompress(frame(0x60, [Buffer.from([0x10, 0x41, 0x00, 0x00, 0x00])])), 'offset 0');
    expectCorrupt(() => lz4().decompress(frame(0x60, [Buffer.from([0x50, 0x41])])), 'literals past the end');
  });

  it('decompresses several frames in a row and skips skippable frames', () => {
    const a = jsonLike(70_000, 34);
    const b = jsonLike(10, 35);
    const skippable = Buffer.from([0x5a, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
    const z = Buffer.concat([lz4().compress(a), skippable, lz4().compress(b)]);
    assert.ok(lz4().decompress(z).equals(Buffer.concat([a, b])));
  });
});

describe('zstd: frames', () => {
  const zstd = (): Codec => codecFor(CodecId.Zstd);

  /** A frame with no content size: window 128 KiB, then `blocks` (3-byte header each). */
  function frameWithoutSize(blocks: Buffer[]): Buffer {
    return Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38]), ...blocks]);
  }
  const blockHeader = (last: boolean, type: number, size: number): Buffer => {
    const h = (size << 3) | (type << 1) | (last ? 1 : 0);
    return Buffer.from([h & 0xff, (h >>> 8) & 0xff, (h >>> 16) & 0xff]);
  };

  it('writes one frame with the magic and the content size', () => {
    const z = zstd().compress(jsonLike(5000, 40));
    assert.equal(z.readUInt32LE(0), 0xfd2fb528);
    const [f] = zstdFrames(z);
    assert.equal(f.outputBound, 5000, 'the frame declares its size');
  });

  it('decompresses frames without a content size (as the Java client writes), past 1 MiB', () => {
    const raw = frameWithoutSize([Buffer.concat([blockHeader(true, 0, 5), Buffer.from('hello')])]);
    assert.equal(zstd().decompress(raw).toString(), 'hello');
    // Ten RLE blocks of 128 KiB: 1.25 MiB out of 36 bytes, more than the package's default guess.
    const rle: Buffer[] = [];
    for (let i = 0; i < 10; i++) rle.push(Buffer.concat([blockHeader(i === 9, 1, 128 * 1024), Buffer.from([0x61 + i])]));
    const out = zstd().decompress(frameWithoutSize(rle));
    assert.equal(out.length, 10 * 128 * 1024);
    assert.equal(out[0], 0x61);
    assert.equal(out[out.length - 1], 0x6a);
  });

  it('decompresses several frames in a row', () => {
    const a = jsonLike(3000, 41);
    const b = jsonLike(200_000, 42);
    assert.ok(zstd().decompress(Buffer.concat([zstd().compress(a), zstd().compress(b, 1)])).equals(Buffer.concat([a, b])));
  });

  it('refuses bad magic, reserved block types and truncation', () => {
    const good = zstd().compress(jsonLike(100_000, 43));
    expectCorrupt(() => zstd().decompress(Buffer.alloc(0)), 'empty');
    expectCorrupt(() => zstd().decompress(Buffer.from([1, 2, 3, 4, 5, 6, 7, 8])), 'magic');
    expectCorrupt(() => zstd().decompress(frameWithoutSize([blockHeader(true, 3, 1), Buffer.from([0])])), 'reserved type');
    for (const cut of [3, 5, 12, good.length >> 1, good.length - 1]) {
      expectCorrupt(() => zstd().decompress(good.subarray(0, cut)), `cut at ${cut}`);
    }
  });
});

describe('gzip', () => {
  it('decompresses members written one after another; refuses truncation', () => {
    const gzip = codecFor(CodecId.Gzip);
    const a = jsonLike(3000, 50);
    const b = jsonLike(90_000, 51);
    assert.ok(gzip.decompress(Buffer.concat([gzip.compress(a, 1), gzip.compress(b, 9)])).equals(Buffer.concat([a, b])));
    const z = gzip.compress(b);
    expectCorrupt(() => gzip.decompress(z.subarray(0, z.length - 3)), 'truncated');
  });
});

describe('levels', () => {
  it('LEVELS has the Java client ranges and defaults', () => {
    assert.deepEqual(LEVELS, {
      gzip: { min: 1, max: 9, default: -1 },
      lz4: { min: 1, max: 17, default: 9 },
      zstd: { min: -131072, max: 22, default: 3 },
    });
  });

  it('validateLevel returns the level to use, the default for undefined', () => {
    assert.equal(validateLevel('gzip', undefined), -1);
    assert.equal(validateLevel('gzip', -1), -1);
    assert.equal(validateLevel('gzip', 1), 1);
    assert.equal(validateLevel('gzip', 9), 9);
    assert.equal(validateLevel('lz4', undefined), 9);
    assert.equal(validateLevel('lz4', 17), 17);
    assert.equal(validateLevel('zstd', undefined), 3);
    assert.equal(validateLevel('zstd', -131072), -131072);
    assert.equal(validateLevel('zstd', 0), 0);
    assert.equal(validateLevel('zstd', 22), 22);
    assert.equal(validateLevel('snappy', undefined), 0);
    assert.equal(validateLevel('snappy', 0), 0, 'what it returns for snappy is accepted back');
    for (const name of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
      const codec = codecFor(codecIdOf(name));
      const data = jsonLike(1000, 15);
      assert.ok(codec.decompress(codec.compress(data, validateLevel(name, undefined))).equals(data), name);
    }
  });

  it('refuses out-of-range and non-integer levels with a message naming the key and the range', () => {
    const bad: Array<[CodecName, number, RegExp]> = [
      ['gzip', 0, /compression\.gzip\.level.*1\.\.9/],
      ['gzip', 10, /compression\.gzip\.level.*1\.\.9/],
      ['gzip', -2, /compression\.gzip\.level/],
      ['lz4', 0, /compression\.lz4\.level.*1\.\.17 \(default 9\)/],
      ['lz4', 18, /compression\.lz4\.level.*1\.\.17/],
      ['zstd', 23, /compression\.zstd\.level.*-131072\.\.22 \(default 3\)/],
      ['zstd', -131073, /compression\.zstd\.level/],
      ['zstd', 1.5, /expected an integer/],
      ['snappy', 1, /snappy has no compression level/],
    ];
    for (const [codec, level, message] of bad) {
      assert.throws(() => validateLevel(codec, level), message, `${codec} ${level}`);
      assert.throws(() => codecFor(codecIdOf(codec)).compress(Buffer.from('x'), level), message, `compress ${codec} ${level}`);
    }
    assert.throws(() => validateLevel('zstd', Number.NaN), /expected an integer/);
  });
});

function codecIdOf(name: CodecName): CodecId {
  return { gzip: CodecId.Gzip, snappy: CodecId.Snappy, lz4: CodecId.Lz4, zstd: CodecId.Zstd }[name];
}

describe('codecFor and missing packages', () => {
  it('names each codec id and refuses None and unknown ids', () => {
    assert.deepEqual(CODECS.map(codecName), ['gzip', 'snappy', 'lz4', 'zstd']);
    assert.throws(() => codecFor(CodecId.None), /CodecId.None \(0\) has no codec/);
    assert.throws(() => codecFor(7 as CodecId), /Unknown compression codec id 7/);
    assert.equal(codecFor(CodecId.Lz4), codecFor(CodecId.Lz4), 'codecs are cached');
  });

  for (const codec of ['snappy', 'lz4', 'zstd'] as const) {
    const pkg = CODEC_PACKAGES[codec].name;
    it(`${codec}: a missing ${pkg} is a clear error naming the package and how to install it`, () => {
      assert.throws(
        () => codecFor(codecIdOf(codec), loaderWithout(pkg)),
        (e: Error & { code?: string; retriable?: boolean; cause?: unknown }) => {
          assert.match(e.message, new RegExp(`${codec} compression needs the npm package ${pkg.replace('/', '\\/')}`));
          assert.match(e.message, /is not installed/);
          assert.match(e.message, new RegExp(`npm install ${pkg.replace('/', '\\/')}@`));
          assert.equal(e.code, 'CODEC_UNAVAILABLE');
          assert.equal(e.retriable, false);
          assert.ok(e.cause instanceof Error, 'the loader error is kept as cause');
          return true;
        },
      );
    });
  }

  it('a package that loads with the wrong shape is refused the same way', () => {
    assert.throws(() => codecFor(CodecId.Snappy, () => ({ nothing: true })), /loaded but does not have the functions/);
  });

  it('gzip needs no package; availableCodecs lists what loads', () => {
    const nothing: PackageLoader = (name) => loaderWithout(name)(name);
    assert.equal(codecFor(CodecId.Gzip, nothing).name, 'gzip');
    assert.deepEqual(availableCodecs(nothing), ['gzip']);
    assert.deepEqual(availableCodecs(), ['gzip', 'snappy', 'lz4', 'zstd']);
  });

  it('the project loads and a missing package is ignored by initCodecs() unless asked for', async () => {
    const pkg = CODEC_PACKAGES.zstd.name;
    await initCodecs(undefined, loaderWithout(pkg));
    await assert.rejects(initCodecs([CodecId.Zstd], loaderWithout(pkg)), new RegExp(`npm install ${pkg.replace('/', '\\/')}`));
  });

  it('zstd before initCodecs() throws saying what to do', async () => {
    // A stand-in package whose init() we control: the real one is initialised once per process.
    let initialised = false;
    const fake = {
      init: async () => {
        initialised = true;
      },
      compress: (b: Uint8Array) => Uint8Array.from(b),
      decompress: (b: Uint8Array) => Uint8Array.from(b),
    };
    const zstd = codecFor(CodecId.Zstd, () => fake);
    assert.throws(() => zstd.compress(Buffer.from('x')), /before it was initialised: await initCodecs\(\)/);
    assert.throws(() => zstd.decompress(Buffer.from('x')), /await initCodecs\(\)/);
    await initCodecs([CodecId.Zstd], () => fake);
    assert.ok(initialised);
    assert.deepEqual(zstd.compress(Buffer.from('x')), Buffer.from('x'));
    // Another codec object over the same package shares its initialisation.
    assert.deepEqual(codecFor(CodecId.Zstd, () => fake).compress(Buffer.from('y')), Buffer.from('y'));
  });
});

// ---- cross-check against the native codecs (native/test/compress_test) ---------------------------

function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'kafka-turbo') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`no kafka-turbo package.json above ${__dirname}`);
    dir = up;
  }
}

/** The C test binary: KAFKA_TURBO_COMPRESS_TEST, else native/build/c/compress_test, built with
 * native/test/build-compress.sh when missing. Null (with the reason) when it cannot be had. */
function nativeCompressTest(): { bin: string | null; why: string } {
  const root = repoRoot();
  const override = process.env.KAFKA_TURBO_COMPRESS_TEST;
  if (override !== undefined) {
    return existsSync(override) ? { bin: override, why: '' } : { bin: null, why: `KAFKA_TURBO_COMPRESS_TEST=${override} does not exist` };
  }
  const bin = join(root, 'native', 'build', 'c', 'compress_test');
  if (existsSync(bin)) return { bin, why: '' };
  const script = join(root, 'native', 'test', 'build-compress.sh');
  const r = spawnSync('bash', [script], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  if (r.status === 0 && existsSync(bin)) return { bin, why: '' };
  const output = `${r.stderr ?? ''}${r.stdout ?? ''}`.trim().split('\n').slice(-3).join(' | ') || r.error?.message || `exit status ${String(r.status)}`;
  return { bin: null, why: `the native compress test binary is not built (${bin}) and ${script} failed: ${output}` };
}

describe('cross-check with the native (C++) codecs', () => {
  const native = nativeCompressTest();
  const skip = native.bin === null ? `skipped: ${native.why}` : false;

  it('bytes the C++ codecs compress decompress here (each level range end, and foreign forms)', { skip }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'kt-compress-c-'));
    try {
      const r = spawnSync(native.bin!, ['--dump', dir], { encoding: 'utf8' });
      assert.equal(r.status, 0, `compress_test --dump: ${r.stdout}${r.stderr}`);
      const files = readdirSync(dir).filter((f) => f.endsWith('.c.bin'));
      assert.ok(files.length > 100, `the dump wrote ${files.length} files`);
      const seen = new Set<string>();
      for (const f of files) {
        const m = /^([a-z0-9]+)_(.+)_([^_]+)\.c\.bin$/.exec(f);
        assert.ok(m, `file name ${f}`);
        const [, codec, variant, tc] = m;
        const raw = readFileSync(join(dir, `${tc}.raw`));
        const z = readFileSync(join(dir, f));
        const out = codecFor(codecIdOf(codec as CodecName)).decompress(z);
        assert.ok(out.equals(raw), `${f}: ${z.length} bytes decompress to the ${raw.length}-byte input`);
        seen.add(`${codec}_${variant}`);
      }
      for (const form of ['lz4_linked-checksums', 'lz4_hc-4mb-blocks', 'zstd_streamed-no-size', 'snappy_raw-block', 'gzip_two-members', 'zstd_-131072', 'zstd_22', 'lz4_17', 'gzip_9']) {
        assert.ok(seen.has(form), `the dump covers ${form}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bytes compressed here decompress with the C++ codecs', { skip }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'kt-compress-ts-'));
    try {
      const cases: Array<[string, Buffer]> = [
        ['empty', Buffer.alloc(0)],
        ['one-byte', Buffer.from([0x2a])],
        ['json-100', jsonLike(100, 60)],
        ['json-64k-plus-1', jsonLike(64 * 1024 + 1, 61)],
        ['json-1m', jsonLike(1024 * 1024, 62)],
        ['random-300k', random(300 * 1024, 63)],
        ['zeros-128k', Buffer.alloc(128 * 1024)],
      ];
      const levels: Record<CodecName, number[]> = {
        gzip: [1, -1, 9],
        snappy: [0],
        lz4: [1, 9, 17],
        zstd: [-131072, 3, 22],
      };
      let written = 0;
      for (const [name, data] of cases) {
        writeFileSync(join(dir, `${name}.raw`), data);
        for (const id of CODECS) {
          const codec = codecFor(id);
          for (const level of levels[codec.name]) {
            if (level === 22 && data.length > 100_000) continue;
            writeFileSync(join(dir, `${codec.name}_${level}_${name}.ts.bin`), codec.compress(data, codec.name === 'snappy' ? undefined : level));
            written++;
          }
        }
      }
      const r = spawnSync(native.bin!, ['--check', dir], { encoding: 'utf8' });
      assert.equal(r.status, 0, `compress_test --check: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^${written + 1} passed, 0 failed$`, 'm'), r.stdout);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
