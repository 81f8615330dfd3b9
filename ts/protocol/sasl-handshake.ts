/**
 * SaslHandshake (key 17), version 1. The first SASL step on a connection: the client names a
 * mechanism, the broker answers whether it enables it and lists those it does. From v1 on the
 * SASL tokens that follow travel in SaslAuthenticate requests (v0's raw, unframed tokens are
 * not spoken here; Kafka 4 removed v0).
 *
 *   SaslHandshake Request (Version: 1) => mechanism
 *     mechanism => STRING
 *
 *   SaslHandshake Response (Version: 1) => error_code [mechanisms]
 *     error_code => INT16               UNSUPPORTED_SASL_MECHANISM (33) when not enabled
 *     mechanisms => STRING              the mechanisms the listener enables
 *
 * A handshake sent on a connection that is already authenticated starts a re-authentication
 * (KIP-368).
 */

import { ApiKey } from './api-keys.js';
import type { Reader } from './reader.js';
import { checkVersion, type ApiDescriptor } from './versions.js';
import { Writer } from './writer.js';

export interface SaslHandshakeRequest {
  mechanism: string;
}

export interface SaslHandshakeResponse {
  errorCode: number;
  mechanisms: string[];
}

export const SaslHandshake: ApiDescriptor<SaslHandshakeRequest, SaslHandshakeResponse> = {
  apiKey: ApiKey.SaslHandshake,
  minVersion: 1,
  maxVersion: 1,
  flexibleFrom: Infinity,
  responseHeaderV0: false,

  encode(version, req) {
    checkVersion(SaslHandshake, version);
    return new Writer(32).string(req.mechanism).finish();
  },

  decode(_version, r: Reader) {
    const errorCode = r.int16();
    const mechanisms = r.array((ir) => ir.string());
    return { errorCode, mechanisms };
  },
};
