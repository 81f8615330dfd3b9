/**
 * The response shape several transaction APIs share (AddPartitionsToTxn v0-3's results,
 * TxnOffsetCommit's topics): an array of topics, each with an array of
 * { partition_index, error_code }, compact and with tagged fields from the flexible versions on.
 */
import type { Reader } from './reader.js';

export interface PartitionError {
  partitionIndex: number;
  errorCode: number;
}

export interface TopicErrors {
  name: string;
  partitions: PartitionError[];
}

export function readTopicErrors(r: Reader, flexible: boolean): TopicErrors[] {
  const partition = (pr: Reader): PartitionError => {
    const p = { partitionIndex: pr.int32(), errorCode: pr.int16() };
    if (flexible) pr.skipTaggedFields();
    return p;
  };
  const topic = (tr: Reader): TopicErrors => {
    const name = flexible ? tr.compactString('name') : tr.string('name');
    const partitions = flexible ? tr.compactArray(partition) : tr.array(partition);
    if (flexible) tr.skipTaggedFields();
    return { name, partitions };
  };
  return flexible ? r.compactArray(topic) : r.array(topic);
}
