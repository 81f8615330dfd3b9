/**
 * EndTxn (key 26), versions 0 to 5: commit or abort the open transaction. The coordinator
 * writes the commit or abort markers to every partition of the transaction (and to the
 * group's offsets partition) and answers when the decision is durable.
 *
 *   EndTxn Request (Version: 0-2) => transactional_id producer_id producer_epoch committed
 *     transactional_id => STRING
 *     producer_id => INT64
 *     producer_epoch => INT16
 *     committed => BOOLEAN                   true commit, false abort
 *   EndTxn Request (Version: 3-5) => same, flexible (COMPACT_STRING, TAG_BUFFER)
 *
 *   EndTxn Response (Version: 0-4) => throttle_time_ms error_code (TAG_BUFFER from v3)
 *   EndTxn Response (Version: 5) => throttle_time_ms error_code producer_id producer_epoch TAG_BUFFER
 *     producer_id => INT64                   the id to use from now on (-1 when not given)
 *     producer_epoch => INT16                the epoch to use from now on: with transactions V2
 *                                            (KIP-890) every EndTxn bumps it
 *
 * v5 is spoken only when the cluster has transaction.version 2 finalized: it is what tells the
 * coordinator to bump the epoch at the end of each transaction.
 */
import { ApiKey } from './api-keys.js';
import { Writer } from './writer.js';
import { checkVersion, type ApiDescriptor } from './versions.js';

export interface EndTxnRequest {
  transactionalId: string;
  producerId: bigint;
  producerEpoch: number;
  committed: boolean;
}

export interface EndTxnResponse {
  throttleTimeMs: number;
  errorCode: number;
  /** v5+; -1n / -1 before. */
  producerId: bigint;
  producerEpoch: number;
}

const FLEXIBLE_FROM = 3;

export const EndTxn: ApiDescriptor<EndTxnRequest, EndTxnResponse> = {
  apiKey: ApiKey.EndTxn,
  minVersion: 0,
  maxVersion: 5,
  flexibleFrom: FLEXIBLE_FROM,
  responseHeaderV0: false,

  encode(version, req) {
    checkVersion(EndTxn, version);
    const flexible = version >= FLEXIBLE_FROM;
    const w = new Writer(32 + req.transactionalId.length * 3);
    if (flexible) w.compactString(req.transactionalId);
    else w.string(req.transactionalId);
    w.int64(req.producerId).int16(req.producerEpoch).boolean(req.committed);
    if (flexible) w.emptyTaggedFields();
    return w.finish();
  },

  decode(version, r) {
    r.context = `EndTxn v${version}`;
    const throttleTimeMs = r.int32();
    const errorCode = r.int16();
    let producerId = -1n;
    let producerEpoch = -1;
    if (version >= 5) {
      producerId = r.int64();
      producerEpoch = r.int16();
    }
    if (version >= FLEXIBLE_FROM) r.skipTaggedFields();
    return { throttleTimeMs, errorCode, producerId, producerEpoch };
  },
};
