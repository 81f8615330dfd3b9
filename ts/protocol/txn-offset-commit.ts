/**
 * TxnOffsetCommit (key 28), versions 0 to 5: the consumer offsets a transaction commits,
 * sent to the group's coordinator; they become the group's committed offsets only when the
 * transaction commits (and are dropped when it aborts).
 *
 *   TxnOffsetCommit Request (Version: 0-1) => transactional_id group_id producer_id producer_epoch [topics]
 *     transactional_id => STRING
 *     group_id => STRING
 *     producer_id => INT64
 *     producer_epoch => INT16
 *     topics => name [partitions]
 *       name => STRING
 *       partitions => partition_index committed_offset committed_metadata
 *         partition_index => INT32
 *         committed_offset => INT64
 *         committed_metadata => NULLABLE_STRING
 *   Version 2 adds committed_leader_epoch => INT32 (after committed_offset; -1 when unknown).
 *   Version 3-5 (flexible) add after producer_epoch: generation_id => INT32 (-1),
 *     member_id => COMPACT_STRING (''), group_instance_id => COMPACT_NULLABLE_STRING (null),
 *     so the group coordinator can fence a zombie member (KIP-447).
 *
 *   TxnOffsetCommit Response (Version: 0-5) => throttle_time_ms [topics]
 *     topics => name [partitions]
 *       partitions => partition_index error_code
 *   (flexible from v3)
 *
 * v4 lets the broker answer TRANSACTION_ABORTABLE. v5 (KIP-890, transactions V2) also adds the
 * group's offsets partition to the transaction, so no AddOffsetsToTxn comes first: spoken only
 * when the cluster has transaction.version 2.
 */
import { ApiKey } from './api-keys.js';
import { readTopicErrors, type TopicErrors } from './topic-errors.js';
import { Writer } from './writer.js';
import { checkVersion, type ApiDescriptor } from './versions.js';

export interface TxnOffsetCommitRequest {
  transactionalId: string;
  groupId: string;
  producerId: bigint;
  producerEpoch: number;
  /** v3+: the consumer's group membership (KIP-447), or -1 / '' / null without one. */
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  topics: readonly {
    name: string;
    partitions: readonly { partitionIndex: number; committedOffset: bigint; committedLeaderEpoch: number; committedMetadata: string | null }[];
  }[];
}

export interface TxnOffsetCommitResponse {
  throttleTimeMs: number;
  topics: TopicErrors[];
}

const FLEXIBLE_FROM = 3;

export const TxnOffsetCommit: ApiDescriptor<TxnOffsetCommitRequest, TxnOffsetCommitResponse> = {
  apiKey: ApiKey.TxnOffsetCommit,
  minVersion: 0,
  maxVersion: 5,
  flexibleFrom: FLEXIBLE_FROM,
  responseHeaderV0: false,

  encode(version, req) {
    checkVersion(TxnOffsetCommit, version);
    const flexible = version >= FLEXIBLE_FROM;
    const w = new Writer(128);
    const str = (x: Writer, s: string | null) => (flexible ? x.compactString(s) : x.string(s));
    str(w, req.transactionalId);
    str(w, req.groupId);
    w.int64(req.producerId).int16(req.producerEpoch);
    if (version >= 3) {
      w.int32(req.generationId);
      str(w, req.memberId);
      str(w, req.groupInstanceId);
    }
    const partition = (pw: Writer, p: TxnOffsetCommitRequest['topics'][number]['partitions'][number]) => {
      pw.int32(p.partitionIndex).int64(p.committedOffset);
      if (version >= 2) pw.int32(p.committedLeaderEpoch);
      str(pw, p.committedMetadata);
      if (flexible) pw.emptyTaggedFields();
    };
    const topic = (tw: Writer, t: TxnOffsetCommitRequest['topics'][number]) => {
      str(tw, t.name);
      if (flexible) tw.compactArray(t.partitions, partition).emptyTaggedFields();
      else tw.array(t.partitions, partition);
    };
    if (flexible) w.compactArray(req.topics, topic).emptyTaggedFields();
    else w.array(req.topics, topic);
    return w.finish();
  },

  decode(version, r) {
    r.context = `TxnOffsetCommit v${version}`;
    const flexible = version >= FLEXIBLE_FROM;
    const throttleTimeMs = r.int32();
    const topics = readTopicErrors(r, flexible);
    if (flexible) r.skipTaggedFields();
    return { throttleTimeMs, topics };
  },
};
