/**
 * AddPartitionsToTxn (key 24), versions 0 to 3: tell the transaction coordinator which
 * partitions the open transaction writes to, before the first batch goes to any of them
 * (transactions V1; with V2, KIP-890, the Produce request adds them and this is not sent).
 * One request carries every partition that became new since the last one (the Java client's
 * batching: one per sender pass).
 *
 *   AddPartitionsToTxn Request (Version: 0-2) => transactional_id producer_id producer_epoch [topics]
 *     transactional_id => STRING
 *     producer_id => INT64
 *     producer_epoch => INT16
 *     topics => name [partitions]
 *       name => STRING
 *       partitions => INT32
 *   AddPartitionsToTxn Request (Version: 3) => same, flexible (COMPACT_*, TAG_BUFFER per struct)
 *
 *   AddPartitionsToTxn Response (Version: 0-2) => throttle_time_ms [results_by_topic]
 *     throttle_time_ms => INT32
 *     results_by_topic => name [results_by_partition]
 *       name => STRING
 *       results_by_partition => partition_index partition_error_code
 *         partition_index => INT32
 *         partition_error_code => INT16
 *   AddPartitionsToTxn Response (Version: 3) => same, flexible
 *
 * Versions 4 and 5 batch several transactional ids and add verify_only: the protocol reserves
 * them for brokers verifying partitions on each other's behalf (they need the CLUSTER_ACTION
 * permission), so clients speak 0-3, as the Java producer does (AddPartitionsToTxnRequest
 * .Builder.forClient).
 */
import { ApiKey } from './api-keys.js';
import { readTopicErrors, type TopicErrors } from './topic-errors.js';
import { Writer } from './writer.js';
import { checkVersion, type ApiDescriptor } from './versions.js';

export interface AddPartitionsToTxnRequest {
  transactionalId: string;
  producerId: bigint;
  producerEpoch: number;
  topics: readonly { name: string; partitions: readonly number[] }[];
}

export interface AddPartitionsToTxnResponse {
  throttleTimeMs: number;
  results: TopicErrors[];
}

const FLEXIBLE_FROM = 3;

export const AddPartitionsToTxn: ApiDescriptor<AddPartitionsToTxnRequest, AddPartitionsToTxnResponse> = {
  apiKey: ApiKey.AddPartitionsToTxn,
  minVersion: 0,
  maxVersion: 3,
  flexibleFrom: FLEXIBLE_FROM,
  responseHeaderV0: false,

  encode(version, req) {
    checkVersion(AddPartitionsToTxn, version);
    const flexible = version >= FLEXIBLE_FROM;
    const w = new Writer(64 + req.transactionalId.length * 3);
    const str = (s: string) => (flexible ? w.compactString(s) : w.string(s));
    str(req.transactionalId);
    w.int64(req.producerId).int16(req.producerEpoch);
    const topic = (tw: Writer, t: { name: string; partitions: readonly number[] }) => {
      if (flexible) {
        tw.compactString(t.name).compactArray(t.partitions, (pw, p) => pw.int32(p)).emptyTaggedFields();
      } else {
        tw.string(t.name).array(t.partitions, (pw, p) => pw.int32(p));
      }
    };
    if (flexible) w.compactArray(req.topics, topic).emptyTaggedFields();
    else w.array(req.topics, topic);
    return w.finish();
  },

  decode(version, r) {
    r.context = `AddPartitionsToTxn v${version}`;
    const flexible = version >= FLEXIBLE_FROM;
    const throttleTimeMs = r.int32();
    const results = readTopicErrors(r, flexible);
    if (flexible) r.skipTaggedFields();
    return { throttleTimeMs, results };
  },
};
