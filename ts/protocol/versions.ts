/**
 * What every API codec exports, and how a request version is chosen.
 *
 * Each API file (api-versions.ts, metadata.ts, produce.ts) exports one descriptor: its key,
 * the versions this client can encode, the first flexible version (from which requests use
 * header v2, compact strings/arrays and tagged fields), and encode/decode functions.
 */

import { KafkaJSServerDoesNotSupportApiKey } from '../errors.js';
import { apiName } from './api-keys.js';
import type { Reader } from './reader.js';

export interface VersionRange {
  minVersion: number;
  maxVersion: number;
}

export interface ApiDescriptor<Req, Res, Encoded extends Buffer | Buffer[] = Buffer> extends VersionRange {
  readonly apiKey: number;
  /** First flexible version: request header v2 and response header v1 from here on. */
  readonly flexibleFrom: number;
  /** True when responses use header v0 whatever the version (only ApiVersions). */
  readonly responseHeaderV0: boolean;
  encode(version: number, req: Req): Encoded;
  decode(version: number, r: Reader): Res;
}

/**
 * The highest version both this client (`desc`) and the broker (`brokerRange`, from its
 * ApiVersions response; undefined when the broker did not list the API) support.
 * Throws KafkaJSServerDoesNotSupportApiKey when there is none.
 */
export function pickVersion(desc: VersionRange & { apiKey: number }, brokerRange: VersionRange | undefined): number {
  const name = apiName(desc.apiKey);
  if (brokerRange === undefined) {
    throw new KafkaJSServerDoesNotSupportApiKey(`The broker does not support ${name} (API key ${desc.apiKey})`, {
      apiKey: desc.apiKey,
      apiName: name,
    });
  }
  const version = Math.min(desc.maxVersion, brokerRange.maxVersion);
  if (version < desc.minVersion || version < brokerRange.minVersion) {
    throw new KafkaJSServerDoesNotSupportApiKey(
      `No common version of ${name} (API key ${desc.apiKey}): this client speaks ` +
        `v${desc.minVersion}-v${desc.maxVersion}, the broker v${brokerRange.minVersion}-v${brokerRange.maxVersion}`,
      { apiKey: desc.apiKey, apiName: name },
    );
  }
  return version;
}

/** Throws a clear error for a version outside the descriptor's range (a caller bug). */
export function checkVersion(desc: VersionRange & { apiKey: number }, version: number): void {
  if (!Number.isInteger(version) || version < desc.minVersion || version > desc.maxVersion) {
    throw new RangeError(
      `${apiName(desc.apiKey)} v${version} is not supported by this client (v${desc.minVersion}-v${desc.maxVersion})`,
    );
  }
}
