/**
 * AddOffsetsToTxn (key 25), versions 0 to 4: tell the transaction coordinator that the
 * transaction will commit offsets for a consumer group (it adds the group's __consumer_offsets
 * partition to the transaction); the offsets themselves go to the group coordinator in
 * TxnOffsetCommit. Transactions V1 only: with V2 (KIP-890) TxnOffsetCommit v5 does both.
 *
 *   AddOffsetsToTxn Request (Version: 0-2) => transactional_id producer_id producer_epoch group_id
 *     transactional_id => STRING
 *     producer_id => INT64
 *     producer_epoch => INT16
 *     group_id => STRING
 *   AddOffsetsToTxn Request (Version: 3-4) => same, flexible (COMPACT_STRING, TAG_BUFFER)
 *
 *   AddOffsetsToTxn Response (Version: 0-4) => throttle_time_ms error_code (TAG_BUFFER from v3)
 *
 * v2 lets the broker answer PRODUCER_FENCED, v4 TRANSACTION_ABORTABLE.
 */
import { ApiKey } from './api-keys.js';
import { Writer } from './writer.js';
import { checkVersion, type ApiDescriptor } from './versions.js';

export interface AddOffsetsToTxnRequest {
  transactionalId: string;
  producerId: bigint;
  producerEpoch: number;
  groupId: string;
}

export interface AddOffsetsToTxnResponse {
  throttleTimeMs: number;
  errorCode: number;
}

const FLEXIBLE_FROM = 3;

export const AddOffsetsToTxn: ApiDescriptor<AddOffsetsToTxnRequest, AddOffsetsToTxnResponse> = {
  apiKey: ApiKey.AddOffsetsToTxn,
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: FLEXIBLE_FROM,
  responseHeaderV0: false,

  encode(version, req) {
    checkVersion(AddOffsetsToTxn, version);
    const flexible = version >= FLEXIBLE_FROM;
    const w = new Writer(32 + (req.transactionalId.length + req.groupId.length) * 3);
    if (flexible) w.compactString(req.transactionalId);
    else w.string(req.transactionalId);
    w.int64(req.producerId).int16(req.producerEpoch);
    if (flexible) w.compactString(req.groupId).emptyTaggedFields();
    else w.string(req.groupId);
    return w.finish();
  },

  decode(version, r) {
    r.context = `AddOffsetsToTxn v${version}`;
    const res = { throttleTimeMs: r.int32(), errorCode: r.int16() };
    if (version >= FLEXIBLE_FROM) r.skipTaggedFields();
    return res;
  },
};
