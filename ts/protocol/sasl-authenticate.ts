/**
 * SaslAuthenticate (key 36), versions 0 to 2: carries one SASL token each way, as many round
 * trips as the mechanism needs (PLAIN and OAUTHBEARER: one; SCRAM: two).
 *
 *   SaslAuthenticate Request (Version: 0-1) => auth_bytes
 *     auth_bytes => BYTES
 *   SaslAuthenticate Request (Version: 2) => auth_bytes TAG_BUFFER
 *     auth_bytes => COMPACT_BYTES
 *
 *   SaslAuthenticate Response (Version: 0) => error_code error_message auth_bytes
 *     error_code => INT16                SASL_AUTHENTICATION_FAILED (58) on bad credentials
 *     error_message => NULLABLE_STRING   the broker's reason (it never echoes the secret)
 *     auth_bytes => BYTES
 *   SaslAuthenticate Response (Version: 1) => ... session_lifetime_ms
 *     session_lifetime_ms => INT64       KIP-368: 0 = no limit; otherwise the client must
 *                                        re-authenticate before this many ms have passed
 *   SaslAuthenticate Response (Version: 2) => same, compact, TAG_BUFFER
 */

import { ApiKey } from './api-keys.js';
import type { Reader } from './reader.js';
import { checkVersion, type ApiDescriptor } from './versions.js';
import { Writer } from './writer.js';

export interface SaslAuthenticateRequest {
  authBytes: Buffer;
}

export interface SaslAuthenticateResponse {
  errorCode: number;
  errorMessage: string | null;
  authBytes: Buffer;
  /** 0 when the broker sets no limit (and always 0 for v0). */
  sessionLifetimeMs: number;
}

const FLEXIBLE_FROM = 2;

export const SaslAuthenticate: ApiDescriptor<SaslAuthenticateRequest, SaslAuthenticateResponse> = {
  apiKey: ApiKey.SaslAuthenticate,
  minVersion: 0,
  maxVersion: 2,
  flexibleFrom: FLEXIBLE_FROM,
  responseHeaderV0: false,

  encode(version, req) {
    checkVersion(SaslAuthenticate, version);
    const w = new Writer(req.authBytes.length + 8);
    if (version >= FLEXIBLE_FROM) w.compactBytes(req.authBytes).emptyTaggedFields();
    else w.bytes(req.authBytes);
    return w.finish();
  },

  decode(version, r: Reader) {
    const flexible = version >= FLEXIBLE_FROM;
    const errorCode = r.int16();
    const errorMessage = flexible ? r.compactNullableString() : r.nullableString();
    const authBytes = (flexible ? r.compactNullableBytes() : r.nullableBytes()) ?? Buffer.alloc(0);
    const sessionLifetimeMs = version >= 1 ? r.int64n() : 0;
    if (flexible) r.skipTaggedFields();
    return { errorCode, errorMessage, authBytes, sessionLifetimeMs };
  },
};
