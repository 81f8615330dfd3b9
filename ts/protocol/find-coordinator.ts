/**
 * FindCoordinator (key 10), versions 1 to 5: which broker coordinates a transactional id
 * (key type 1) or a consumer group (key type 0). The transactional producer asks for both:
 * its transaction coordinator (InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn)
 * and, for sendOffsetsToTransaction, the group's coordinator (TxnOffsetCommit).
 *
 *   FindCoordinator Request (Version: 1-2) => key key_type
 *     key => STRING                          the transactional id or the group id
 *     key_type => INT8                       0 group, 1 transaction
 *   FindCoordinator Request (Version: 3) => key key_type TAG_BUFFER   (flexible: COMPACT_STRING)
 *   FindCoordinator Request (Version: 4-5) => key_type [coordinator_keys] TAG_BUFFER   (KIP-699)
 *     coordinator_keys => COMPACT_STRING
 *
 *   FindCoordinator Response (Version: 1-2) => throttle_time_ms error_code error_message node_id host port
 *     throttle_time_ms => INT32
 *     error_code => INT16
 *     error_message => NULLABLE_STRING
 *     node_id => INT32
 *     host => STRING
 *     port => INT32
 *   FindCoordinator Response (Version: 3) => same, flexible, TAG_BUFFER
 *   FindCoordinator Response (Version: 4-5) => throttle_time_ms [coordinators] TAG_BUFFER
 *     coordinators => key node_id host port error_code error_message TAG_BUFFER
 *
 * v5 only tells the broker that the client knows TRANSACTION_ABORTABLE (KIP-890); v6 adds
 * share groups and is not spoken. v0 (no key type) is not spoken: it cannot ask for a
 * transaction coordinator. One key per request, as the Java producer asks.
 */
import { ApiKey } from './api-keys.js';
import { Writer } from './writer.js';
import { checkVersion, type ApiDescriptor } from './versions.js';

export const CoordinatorType = { Group: 0, Transaction: 1 } as const;

export interface FindCoordinatorRequest {
  key: string;
  keyType: number;
}

export interface FindCoordinatorResponse {
  throttleTimeMs: number;
  errorCode: number;
  errorMessage: string | null;
  nodeId: number;
  host: string;
  port: number;
}

const FLEXIBLE_FROM = 3;

export const FindCoordinator: ApiDescriptor<FindCoordinatorRequest, FindCoordinatorResponse> = {
  apiKey: ApiKey.FindCoordinator,
  minVersion: 1,
  maxVersion: 5,
  flexibleFrom: FLEXIBLE_FROM,
  responseHeaderV0: false,

  encode(version, req) {
    checkVersion(FindCoordinator, version);
    const w = new Writer(16 + req.key.length * 3);
    if (version >= 4) {
      w.int8(req.keyType).compactArray([req.key], (kw, k) => kw.compactString(k));
    } else {
      if (version >= FLEXIBLE_FROM) w.compactString(req.key);
      else w.string(req.key);
      w.int8(req.keyType);
    }
    if (version >= FLEXIBLE_FROM) w.emptyTaggedFields();
    return w.finish();
  },

  decode(version, r) {
    r.context = `FindCoordinator v${version}`;
    const throttleTimeMs = r.int32();
    if (version >= 4) {
      const list = r.compactArray((cr) => {
        const c = {
          key: cr.compactString('key'),
          nodeId: cr.int32(),
          host: cr.compactString('host'),
          port: cr.int32(),
          errorCode: cr.int16(),
          errorMessage: cr.compactNullableString('error_message'),
        };
        cr.skipTaggedFields();
        return c;
      });
      r.skipTaggedFields();
      const c = list[0];
      if (c === undefined) r.fail('FindCoordinator answered no coordinator for the one key asked');
      return { throttleTimeMs, errorCode: c.errorCode, errorMessage: c.errorMessage, nodeId: c.nodeId, host: c.host, port: c.port };
    }
    const flexible = version >= FLEXIBLE_FROM;
    const errorCode = r.int16();
    const errorMessage = flexible ? r.compactNullableString('error_message') : r.nullableString('error_message');
    const nodeId = r.int32();
    const host = flexible ? r.compactString('host') : r.string('host');
    const port = r.int32();
    if (flexible) r.skipTaggedFields();
    return { throttleTimeMs, errorCode, errorMessage, nodeId, host, port };
  },
};
