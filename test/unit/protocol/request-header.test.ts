import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KafkaJSServerDoesNotSupportApiKey } from '../../../ts/errors.js';
import { ApiVersions } from '../../../ts/protocol/api-versions.js';
import { Metadata } from '../../../ts/protocol/metadata.js';
import { Produce } from '../../../ts/protocol/produce.js';
import { Reader } from '../../../ts/protocol/reader.js';
import {
  readRequestHeader,
  readResponseHeader,
  writeRequestHeader,
  writeResponseHeader,
} from '../../../ts/protocol/request-header.js';
import { pickVersion } from '../../../ts/protocol/versions.js';
import { Writer } from '../../../ts/protocol/writer.js';

describe('request header', () => {
  it('v1: api key, version, correlation id, nullable client id', () => {
    const w = new Writer();
    writeRequestHeader(w, { apiKey: 3, apiVersion: 8, correlationId: 0x01020304, clientId: 'cli' }, false);
    assert.equal(w.finish().toString('hex'), '0003' + '0008' + '01020304' + '0003636c69');
  });

  it('v2 adds an empty tagged-field section; client id stays a non-compact string', () => {
    const w = new Writer();
    writeRequestHeader(w, { apiKey: 0, apiVersion: 11, correlationId: 7, clientId: 'cli' }, true);
    assert.equal(w.finish().toString('hex'), '0000' + '000b' + '00000007' + '0003636c69' + '00');
    const w2 = new Writer();
    writeRequestHeader(w2, { apiKey: 18, apiVersion: 3, correlationId: 1, clientId: null }, true);
    assert.equal(w2.finish().toString('hex'), '0012' + '0003' + '00000001' + 'ffff' + '00');
  });

  it('reads back what it writes', () => {
    for (const flexible of [false, true]) {
      const h = { apiKey: 22, apiVersion: 4, correlationId: 99, clientId: 'x' };
      const w = new Writer();
      writeRequestHeader(w, h, flexible);
      assert.deepEqual(readRequestHeader(new Reader(w.finish()), flexible), h);
    }
  });

  it('response header v0 and v1 (tagged fields skipped)', () => {
    assert.equal(readResponseHeader(new Reader(Buffer.from('0000002a', 'hex')), false), 42);
    const r = new Reader(Buffer.from('0000002a' + '01' + '0002' + 'abcd' + '7f', 'hex'));
    assert.equal(readResponseHeader(r, true), 42);
    assert.equal(r.int8(), 0x7f);
    const w = new Writer();
    writeResponseHeader(w, 42, true);
    assert.equal(w.finish().toString('hex'), '0000002a00');
  });

  it('a header error names the header; the body read after it keeps the reader\'s own context', () => {
    assert.throws(() => readRequestHeader(new Reader(Buffer.from('00000003', 'hex')), true), /\(request header v2\)$/);
    assert.throws(() => readResponseHeader(new Reader(Buffer.from('00000001ff', 'hex')), true), /\(response header v1\)$/);
    // A fake broker reads the request header, then the body with the same reader.
    const w = new Writer();
    writeRequestHeader(w, { apiKey: 3, apiVersion: 12, correlationId: 7, clientId: 'c' }, true);
    const r = new Reader(w.finish(), 0, 'Metadata v12 request');
    readRequestHeader(r, true);
    assert.throws(() => r.int32(), /\(Metadata v12 request\)$/);
  });
});

describe('pickVersion', () => {
  it('picks the highest version both sides support', () => {
    assert.equal(pickVersion(Produce, { minVersion: 3, maxVersion: 12 }), 11);
    assert.equal(pickVersion(Produce, { minVersion: 0, maxVersion: 7 }), 7);
    assert.equal(pickVersion(Metadata, { minVersion: 0, maxVersion: 13 }), 12);
    assert.equal(pickVersion(ApiVersions, { minVersion: 0, maxVersion: 4 }), 3);
  });

  it('throws KafkaJSServerDoesNotSupportApiKey when there is no common version or no API', () => {
    assert.throws(() => pickVersion(Produce, { minVersion: 0, maxVersion: 2 }), (err: unknown) => {
      assert.ok(err instanceof KafkaJSServerDoesNotSupportApiKey);
      assert.match(err.message, /No common version of Produce \(API key 0\): this client speaks v3-v11, the broker v0-v2/);
      assert.equal(err.apiName, 'Produce');
      return true;
    });
    assert.throws(() => pickVersion(Metadata, { minVersion: 13, maxVersion: 14 }), /No common version of Metadata/);
    assert.throws(() => pickVersion(Produce, undefined), /The broker does not support Produce/);
  });

  it('encoders refuse versions outside their range', () => {
    assert.throws(() => Produce.encode(2, { transactionalId: null, acks: 1, timeoutMs: 1, topicData: [] }), /Produce v2 is not supported by this client \(v3-v11\)/);
    assert.throws(() => Metadata.encode(13, { topics: null, allowAutoTopicCreation: false }), /Metadata v13/);
    assert.throws(() => ApiVersions.encode(4, { clientSoftwareName: 'a', clientSoftwareVersion: 'b' }), /ApiVersions v4/);
  });
});
