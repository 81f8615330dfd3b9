/**
 * fast-check arbitraries of decoded responses, one per API version, shaped as the decoder
 * returns them for that version (fields a version lacks hold the decoder's default), so that
 * decode(encode(x)) can be compared with x as a whole.
 */
import fc from 'fast-check';
import type { ApiVersionsResponse } from '../../../ts/protocol/api-versions.js';
import type { MetadataResponse } from '../../../ts/protocol/metadata.js';
import type { ProduceResponse } from '../../../ts/protocol/produce.js';
import type { Extras, UnknownTag } from './encoders.js';

/** fc.record with ordinary objects: deepStrictEqual compares prototypes, and the decoders
 * return object literals. */
export function rec<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;
}

export const int16 = fc.integer({ min: -0x8000, max: 0x7fff });
export const int32 = fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff });
export const int64 = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });
/** Strings as Kafka carries them: any code point but lone surrogates (which UTF-8 cannot hold). */
export const str = fc.string({ unit: 'binary', maxLength: 12 });
export const nullableStr = fc.option(str, { nil: null });
const small = <T>(a: fc.Arbitrary<T>, maxLength = 4): fc.Arbitrary<T[]> => fc.array(a, { maxLength });

const unknownTag: fc.Arbitrary<UnknownTag> = rec({
  tag: fc.integer({ min: 0, max: 300 }),
  data: fc.uint8Array({ maxLength: 6 }),
});
export const extras: fc.Arbitrary<Extras> = rec({
  tags: small(fc.uniqueArray(unknownTag, { selector: (t) => t.tag, maxLength: 2 }), 3),
  authorizedOperations: int32,
});

export function apiVersionsResponse(version: number): fc.Arbitrary<ApiVersionsResponse> {
  return rec({
    // v3 with UNSUPPORTED_VERSION (35) is answered in the v0 format: a case of its own.
    errorCode: version >= 3 ? int16.filter((c) => c !== 35) : int16,
    apiKeys: small(rec({ apiKey: int16, minVersion: int16, maxVersion: int16 }), 6),
    throttleTimeMs: version >= 1 ? int32 : fc.constant(0),
  });
}

export function metadataResponse(version: number): fc.Arbitrary<MetadataResponse> {
  const int32s = small(int32);
  return rec({
    throttleTimeMs: version >= 3 ? int32 : fc.constant(0),
    brokers: small(rec({ nodeId: int32, host: str, port: int32, rack: nullableStr })),
    clusterId: version >= 2 ? nullableStr : fc.constant(null),
    controllerId: int32,
    topics: small(
      rec({
        errorCode: int16,
        name: version >= 12 ? nullableStr : str,
        topicId: version >= 10 ? fc.uint8Array({ minLength: 16, maxLength: 16 }).map((u) => Buffer.from(u)) : fc.constant(null),
        isInternal: fc.boolean(),
        partitions: small(
          rec({
            errorCode: int16,
            partitionIndex: int32,
            leaderId: int32,
            leaderEpoch: version >= 7 ? int32 : fc.constant(-1),
            replicaNodes: int32s,
            isrNodes: int32s,
            offlineReplicas: version >= 5 ? int32s : fc.constant([]),
          }),
        ),
      }),
      3,
    ),
  });
}

export function produceResponse(version: number): fc.Arbitrary<ProduceResponse> {
  return rec({
    responses: small(
      rec({
        name: str,
        partitionResponses: small(
          rec({
            index: int32,
            errorCode: int16,
            baseOffset: int64,
            logAppendTimeMs: int64,
            logStartOffset: version >= 5 ? int64 : fc.constant(-1n),
            recordErrors: version >= 8 ? small(rec({ batchIndex: int32, batchIndexErrorMessage: nullableStr }), 3) : fc.constant([]),
            errorMessage: version >= 8 ? nullableStr : fc.constant(null),
            currentLeader: version >= 10 ? fc.option(rec({ leaderId: int32, leaderEpoch: int32 }), { nil: null }) : fc.constant(null),
          }),
        ),
      }),
      3,
    ),
    throttleTimeMs: int32,
    nodeEndpoints: version >= 10 ? small(rec({ nodeId: int32, host: str, port: int32, rack: nullableStr }), 3) : fc.constant([]),
  });
}
