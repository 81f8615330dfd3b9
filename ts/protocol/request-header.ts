/**
 * Request and response headers.
 *
 *   Request Header v1 => request_api_key request_api_version correlation_id client_id
 *     request_api_key => INT16
 *     request_api_version => INT16
 *     correlation_id => INT32
 *     client_id => NULLABLE_STRING
 *
 *   Request Header v2 => request_api_key request_api_version correlation_id client_id TAG_BUFFER
 *     (same fields; client_id stays a NULLABLE_STRING, not a compact one, so that a broker can
 *     read it before it knows whether the request body is flexible)
 *
 *   Response Header v0 => correlation_id
 *     correlation_id => INT32
 *
 *   Response Header v1 => correlation_id TAG_BUFFER
 *
 * A request uses header v2 and its response header v1 from the API's first flexible version
 * on, with one exception: ApiVersions responses always use header v0, because a client reads
 * the response before it knows which versions the broker supports.
 */

import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
}

/** Writes request header v1, or v2 when `flexible` (the API version is a flexible one). */
export function writeRequestHeader(w: Writer, h: RequestHeader, flexible: boolean): void {
  w.int16(h.apiKey).int16(h.apiVersion).int32(h.correlationId).string(h.clientId);
  if (flexible) w.emptyTaggedFields();
}

/** Reads a request header (used by tests and fake brokers). */
export function readRequestHeader(r: Reader, flexible: boolean): RequestHeader {
  return withContext(r, `request header v${flexible ? 2 : 1}`, () => {
    const apiKey = r.int16();
    const apiVersion = r.int16();
    const correlationId = r.int32();
    const clientId = r.nullableString('client_id');
    if (flexible) r.skipTaggedFields();
    return { apiKey, apiVersion, correlationId, clientId };
  });
}

/** Writes response header v0, or v1 when `flexible` (used by tests and fake brokers). */
export function writeResponseHeader(w: Writer, correlationId: number, flexible: boolean): void {
  w.int32(correlationId);
  if (flexible) w.emptyTaggedFields();
}

/** Reads response header v0, or v1 when `flexible`; returns the correlation id. */
export function readResponseHeader(r: Reader, flexible: boolean): number {
  return withContext(r, `response header v${flexible ? 1 : 0}`, () => {
    const correlationId = r.int32();
    if (flexible) r.skipTaggedFields();
    return correlationId;
  });
}

/** Errors while reading a header name the header; the body's decoder, reading on with the same
 * reader, then gets the reader's context back as it was. */
function withContext<T>(r: Reader, context: string, read: () => T): T {
  const outer = r.context;
  r.context = context;
  const v = read();
  r.context = outer;
  return v;
}
