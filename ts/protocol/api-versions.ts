/**
 * ApiVersions (key 18), versions 0 to 3. The first request on every connection: the broker
 * answers with the version range it supports for each API.
 *
 *   ApiVersions Request (Version: 0-2) =>            (no fields)
 *
 *   ApiVersions Request (Version: 3) => client_software_name client_software_version TAG_BUFFER
 *     client_software_name => COMPACT_STRING         e.g. 'kafka-turbo'
 *     client_software_version => COMPACT_STRING      e.g. '0.1.0'
 *
 *   ApiVersions Response (Version: 0) => error_code [api_keys]
 *     error_code => INT16
 *     api_keys => api_key min_version max_version
 *       api_key => INT16
 *       min_version => INT16
 *       max_version => INT16
 *
 *   ApiVersions Response (Version: 1-2) => error_code [api_keys] throttle_time_ms
 *     throttle_time_ms => INT32
 *
 *   ApiVersions Response (Version: 3) => error_code [api_keys]<compact> throttle_time_ms TAG_BUFFER
 *     api_keys => api_key min_version max_version TAG_BUFFER
 *     (response tagged fields: 0 supported_features, 1 finalized_features_epoch,
 *      2 finalized_features, 3 zk_migration_ready; the producer reads only the finalized
 *      features, for transaction.version, which says whether transactions V2 (KIP-890) are on)
 *     finalized_features => [name max_version_level min_version_level TAG_BUFFER]
 *       name => COMPACT_STRING
 *       max_version_level => INT16
 *       min_version_level => INT16
 *
 * The response header is always v0, even for v3 (see request-header.ts).
 *
 * A broker that does not support the requested version answers UNSUPPORTED_VERSION (35),
 * whatever version was asked, in a body the client may not be able to read as that version:
 * the Java broker writes the v0 format and lists its own ApiVersions range; librdkafka's mock
 * cluster writes a 1-byte array count and no tag buffers, which neither grammar reads. The
 * error code is always the first two bytes, so decode() reads it first and, when it is
 * UNSUPPORTED_VERSION on a version above 0, returns it with whatever range list the v0 format
 * yields (none when the body does not parse). The Java client does the same: its
 * ApiVersionsResponse.parse falls back to v0 when the body does not parse as the version
 * asked, and NetworkClient retries with the broker's advertised ApiVersions maximum, or v0
 * when none is given. Any other undecodable body is an error (the caller fails fast).
 */

import { ApiKey } from './api-keys.js';
import { ErrorCode } from './error-codes.js';
import type { Reader } from './reader.js';
import { checkVersion, type ApiDescriptor } from './versions.js';
import { Writer } from './writer.js';

export interface ApiVersionsRequest {
  /** v3+: reported to the broker for its metrics. Brokers answer INVALID_REQUEST unless both
   * are letters, digits, '.' and '-', starting and ending with a letter or digit. */
  clientSoftwareName: string;
  clientSoftwareVersion: string;
}

export interface ApiVersionRange {
  apiKey: number;
  minVersion: number;
  maxVersion: number;
}

export interface ApiVersionsResponse {
  errorCode: number;
  apiKeys: ApiVersionRange[];
  throttleTimeMs: number;
  /** v3+: the cluster's finalized feature levels (max_version_level by name); absent before
   * v3 or when the broker sent none. */
  finalizedFeatures?: Map<string, number>;
}

const FLEXIBLE_FROM = 3;

function readRange(r: Reader): ApiVersionRange {
  return { apiKey: r.int16(), minVersion: r.int16(), maxVersion: r.int16() };
}

/** The v0 range list after an UNSUPPORTED_VERSION error code, if the rest of the body is
 * exactly that (the Java broker's answer); [] otherwise (no list, or a body in no grammar). */
function v0RangesOrNone(r: Reader): ApiVersionRange[] {
  const from = r.offset;
  try {
    const apiKeys = r.array(readRange);
    if (r.remaining === 0) return apiKeys;
  } catch {
    // not the v0 format: only the error code is known
  }
  r.offset = from;
  return [];
}

export const ApiVersions: ApiDescriptor<ApiVersionsRequest, ApiVersionsResponse> = {
  apiKey: ApiKey.ApiVersions,
  minVersion: 0,
  maxVersion: 3,
  flexibleFrom: FLEXIBLE_FROM,
  responseHeaderV0: true,

  encode(version, req) {
    checkVersion(ApiVersions, version);
    if (version < FLEXIBLE_FROM) return Buffer.alloc(0);
    const w = new Writer(64);
    w.compactString(req.clientSoftwareName).compactString(req.clientSoftwareVersion).emptyTaggedFields();
    return w.finish();
  },

  decode(version, r) {
    r.context = `ApiVersions v${version}`;
    const errorCode = r.int16();
    if (version > 0 && errorCode === ErrorCode.UNSUPPORTED_VERSION) {
      const apiKeys = v0RangesOrNone(r);
      r.offset += r.remaining; // whatever followed is consumed
      return { errorCode, apiKeys, throttleTimeMs: 0 };
    }
    if (version >= FLEXIBLE_FROM) {
      const apiKeys = r.compactArray((ir) => {
        const range = readRange(ir);
        ir.skipTaggedFields();
        return range;
      });
      const throttleTimeMs = r.int32();
      let finalizedFeatures: Map<string, number> | undefined;
      r.taggedFields((tag, fr) => {
        if (tag !== 2) return false;
        finalizedFeatures = new Map();
        for (const f of fr.compactArray((e) => {
          const name = e.compactString('finalized feature name');
          const maxLevel = e.int16();
          e.int16(); // min_version_level
          e.skipTaggedFields();
          return [name, maxLevel] as const;
        })) {
          finalizedFeatures.set(f[0], f[1]);
        }
        return true;
      });
      return finalizedFeatures ? { errorCode, apiKeys, throttleTimeMs, finalizedFeatures } : { errorCode, apiKeys, throttleTimeMs };
    }
    const apiKeys = r.array(readRange);
    const throttleTimeMs = version >= 1 ? r.int32() : 0;
    return { errorCode, apiKeys, throttleTimeMs };
  },
};
