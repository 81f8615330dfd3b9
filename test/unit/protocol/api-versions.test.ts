import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiVersions, type ApiVersionsResponse } from '../../../ts/protocol/api-versions.js';
import { Reader } from '../../../ts/protocol/reader.js';
import { Writer } from '../../../ts/protocol/writer.js';

const decodeHex = (version: number, hex: string): ApiVersionsResponse => {
  const r = new Reader(Buffer.from(hex, 'hex'));
  const res = ApiVersions.decode(version, r);
  assert.equal(r.remaining, 0, 'the whole body must be consumed');
  return res;
};

/** Test-side response encoder, written from the grammar, for round trips. */
function encodeResponse(version: number, res: ApiVersionsResponse): Buffer {
  const w = new Writer();
  w.int16(res.errorCode);
  if (version >= 3) {
    w.compactArray(res.apiKeys, (x, k) => x.int16(k.apiKey).int16(k.minVersion).int16(k.maxVersion).emptyTaggedFields());
    w.int32(res.throttleTimeMs).emptyTaggedFields();
  } else {
    w.array(res.apiKeys, (x, k) => x.int16(k.apiKey).int16(k.minVersion).int16(k.maxVersion));
    if (version >= 1) w.int32(res.throttleTimeMs);
  }
  return w.finish();
}

describe('ApiVersions request', () => {
  it('v0-v2 have an empty body', () => {
    for (const v of [0, 1, 2]) {
      assert.equal(ApiVersions.encode(v, { clientSoftwareName: 'kafka-turbo', clientSoftwareVersion: '0.1.0' }).length, 0);
    }
  });

  it('v3 golden bytes: compact client software name and version, empty tags', () => {
    const body = ApiVersions.encode(3, { clientSoftwareName: 'kafka-turbo', clientSoftwareVersion: '0.1.0' });
    assert.equal(
      (body as Buffer).toString('hex'),
      '0c' + Buffer.from('kafka-turbo').toString('hex') + // length 11 + 1
        '06' + Buffer.from('0.1.0').toString('hex') + // length 5 + 1
        '00', // no tagged fields
    );
  });

  it('descriptor facts', () => {
    assert.equal(ApiVersions.apiKey, 18);
    assert.equal(ApiVersions.flexibleFrom, 3);
    assert.equal(ApiVersions.responseHeaderV0, true);
  });
});

describe('ApiVersions response', () => {
  it('v3 golden bytes, with a tagged field to skip', () => {
    const res = decodeHex(
      3,
      '0000' + // error_code 0
        '03' + // 2 api keys
        '0000' + '0003' + '000b' + '00' + // Produce 3..11, no tags
        '0012' + '0000' + '0004' + '00' + // ApiVersions 0..4, no tags
        '00000000' + // throttle_time_ms 0
        '01' + '03' + '01' + '00', // 1 tagged field: tag 3 (zk_migration_ready), 1 byte: false
    );
    assert.deepEqual(res, {
      errorCode: 0,
      apiKeys: [
        { apiKey: 0, minVersion: 3, maxVersion: 11 },
        { apiKey: 18, minVersion: 0, maxVersion: 4 },
      ],
      throttleTimeMs: 0,
    });
  });

  it('v0 and v1 golden bytes', () => {
    assert.deepEqual(decodeHex(0, '0000' + '00000001' + '0003' + '0001' + '000c'), {
      errorCode: 0,
      apiKeys: [{ apiKey: 3, minVersion: 1, maxVersion: 12 }],
      throttleTimeMs: 0,
    });
    assert.deepEqual(decodeHex(1, '0000' + '00000000' + '00000064'), { errorCode: 0, apiKeys: [], throttleTimeMs: 100 });
  });

  it('a v3 request answered UNSUPPORTED_VERSION in the v0 format decodes as v0', () => {
    const res = decodeHex(3, '0023' + '00000001' + '0012' + '0000' + '0002');
    assert.deepEqual(res, { errorCode: 35, apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 2 }], throttleTimeMs: 0 });
    // and with no list at all
    assert.deepEqual(decodeHex(3, '0023'), { errorCode: 35, apiKeys: [], throttleTimeMs: 0 });
  });

  it("librdkafka's mock cluster: UNSUPPORTED_VERSION in a malformed body is read from its first two bytes", () => {
    // What the mock (librdkafka 2.0.2) sent here for a v3 request, body after the correlation
    // id: error 35, a 1-byte array count, one entry without tags, throttle, no tag buffer.
    // Neither the v3 nor the v0 grammar reads it; the error code alone is what counts.
    const res = decodeHex(3, '0023' + '01' + '0012' + '0000' + '0002' + '00000000');
    assert.equal(res.errorCode, 35);
    assert.deepEqual(res.apiKeys, []);
  });

  it('a malformed body with any other error code (or none) is a decode error', () => {
    assert.throws(() => decodeHex(3, '0000' + '01' + '0012' + '0000' + '0002' + '00000000'));
    assert.throws(() => decodeHex(3, '0022' + '05'));
    assert.throws(() => decodeHex(0, '0023' + '01'), 'v0 has nothing to fall back to');
  });

  it('round-trips every version', () => {
    const res: ApiVersionsResponse = {
      errorCode: 0,
      apiKeys: Array.from({ length: 70 }, (_, i) => ({ apiKey: i, minVersion: i % 3, maxVersion: 3 + (i % 11) })),
      throttleTimeMs: 12,
    };
    for (let v = 0; v <= 3; v++) {
      const got = ApiVersions.decode(v, new Reader(encodeResponse(v, res)));
      assert.deepEqual(got, { ...res, throttleTimeMs: v === 0 ? 0 : 12 }, `v${v}`);
    }
  });

  it('truncated responses fail clearly', () => {
    assert.throws(() => decodeHex(3, '0000' + '03' + '0000'), /Truncated input/);
  });
});
