/**
 * InitProducerId (key 22), versions 0 to 5: a producer id and epoch for an idempotent (or
 * transactional) producer.
 *
 *   InitProducerId Request (Version: 0-1) => transactional_id transaction_timeout_ms
 *     transactional_id => NULLABLE_STRING      null for an idempotent producer
 *     transaction_timeout_ms => INT32
 *   InitProducerId Request (Version: 2) => same, flexible: COMPACT_NULLABLE_STRING, TAG_BUFFER
 *   InitProducerId Request (Version: 3-5) => transactional_id transaction_timeout_ms
 *                                             producer_id producer_epoch   (flexible)
 *     producer_id => INT64                     the current id, to bump its epoch (KIP-360), or -1
 *     producer_epoch => INT16                  the current epoch, or -1
 *
 *   InitProducerId Response (Version: 0-5) => throttle_time_ms error_code producer_id producer_epoch
 *     throttle_time_ms => INT32
 *     error_code => INT16
 *     producer_id => INT64
 *     producer_epoch => INT16
 *   (flexible from v2: a TAG_BUFFER at the end)
 *
 * v4 only changes what the broker may answer (PRODUCER_FENCED instead of INVALID_PRODUCER_EPOCH,
 * KIP-588); v5 marks the client as able to handle TRANSACTION_ABORTABLE (KIP-890). The
 * version-6 fields of KIP-939 (two-phase commit) are not spoken.
 */
import { ApiKey } from './api-keys.js';
import { Writer } from './writer.js';
import { checkVersion, type ApiDescriptor } from './versions.js';

export interface InitProducerIdRequest {
  transactionalId: string | null;
  transactionTimeoutMs: number;
  /** v3+: the id and epoch held now (to bump the epoch), else -1n / -1. */
  producerId: bigint;
  producerEpoch: number;
}

export interface InitProducerIdResponse {
  throttleTimeMs: number;
  errorCode: number;
  producerId: bigint;
  producerEpoch: number;
}

const FLEXIBLE_FROM = 2;

export const InitProducerId: ApiDescriptor<InitProducerIdRequest, InitProducerIdResponse> = {
  apiKey: ApiKey.InitProducerId,
  minVersion: 0,
  maxVersion: 5,
  flexibleFrom: FLEXIBLE_FROM,
  responseHeaderV0: false,

  encode(version, req) {
    checkVersion(InitProducerId, version);
    const flexible = version >= FLEXIBLE_FROM;
    const w = new Writer(32 + (req.transactionalId?.length ?? 0) * 3);
    if (flexible) w.compactString(req.transactionalId);
    else w.string(req.transactionalId);
    w.int32(req.transactionTimeoutMs);
    if (version >= 3) w.int64(req.producerId).int16(req.producerEpoch);
    if (flexible) w.emptyTaggedFields();
    return w.finish();
  },

  decode(version, r) {
    const res: InitProducerIdResponse = {
      throttleTimeMs: r.int32(),
      errorCode: r.int16(),
      producerId: r.int64(),
      producerEpoch: r.int16(),
    };
    if (version >= FLEXIBLE_FROM) r.skipTaggedFields();
    return res;
  },
};
