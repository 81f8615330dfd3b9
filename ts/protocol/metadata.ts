/**
 * Metadata (key 3), versions 1 to 12: brokers, and the leader and replicas of each partition.
 *
 *   Metadata Request (Version: 1-3) => [topics]
 *     topics => name                        null array = all topics (an empty one = none)
 *       name => STRING
 *   Metadata Request (Version: 4-7) => [topics] allow_auto_topic_creation
 *     allow_auto_topic_creation => BOOLEAN
 *   Metadata Request (Version: 8) => [topics] allow_auto_topic_creation
 *       include_cluster_authorized_operations include_topic_authorized_operations
 *     include_cluster_authorized_operations => BOOLEAN   (v8-v10 only)
 *     include_topic_authorized_operations => BOOLEAN
 *   Metadata Request (Version: 9) => same fields, flexible: compact arrays and strings,
 *       a TAG_BUFFER after each topic and at the end
 *   Metadata Request (Version: 10) => [topics]<compact> ... TAG_BUFFER
 *     topics => topic_id name TAG_BUFFER
 *       topic_id => UUID                    all zeros when asking by name
 *       name => COMPACT_NULLABLE_STRING
 *   Metadata Request (Version: 11-12) => [topics] allow_auto_topic_creation
 *       include_topic_authorized_operations TAG_BUFFER   (cluster operations dropped)
 *
 *   Metadata Response (Version: 1-12) =>
 *     throttle_time_ms => INT32             v3+
 *     brokers => node_id host port rack
 *       node_id => INT32
 *       host => STRING
 *       port => INT32
 *       rack => NULLABLE_STRING
 *     cluster_id => NULLABLE_STRING         v2+
 *     controller_id => INT32
 *     topics => error_code name topic_id is_internal [partitions] topic_authorized_operations
 *       error_code => INT16
 *       name => STRING                      NULLABLE from v12 (null when asked by topic id)
 *       topic_id => UUID                    v10+
 *       is_internal => BOOLEAN
 *       partitions => error_code partition_index leader_id leader_epoch [replica_nodes]
 *                     [isr_nodes] [offline_replicas]
 *         error_code => INT16
 *         partition_index => INT32
 *         leader_id => INT32
 *         leader_epoch => INT32             v7+
 *         replica_nodes => INT32
 *         isr_nodes => INT32
 *         offline_replicas => INT32         v5+
 *       topic_authorized_operations => INT32   v8+
 *     cluster_authorized_operations => INT32   v8-v10
 *   From v9 on every array and string is compact and every struct ends with a TAG_BUFFER.
 */

import { ApiKey } from './api-keys.js';
import type { Reader } from './reader.js';
import { checkVersion, type ApiDescriptor } from './versions.js';
import { Writer } from './writer.js';

export interface MetadataRequest {
  /** null asks for every topic; [] for none (brokers only). */
  topics: readonly string[] | null;
  /** v4+; older versions always auto-create when the broker allows it. */
  allowAutoTopicCreation: boolean;
}

export interface MetadataBroker {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

export interface MetadataPartition {
  errorCode: number;
  partitionIndex: number;
  leaderId: number;
  /** v7+; -1 before. */
  leaderEpoch: number;
  replicaNodes: number[];
  isrNodes: number[];
  /** v5+; empty before. */
  offlineReplicas: number[];
}

export interface MetadataTopic {
  errorCode: number;
  /** null only when the topic was asked for by id (v12+), which this client does not do. */
  name: string | null;
  /** v10+: 16 bytes; null before. */
  topicId: Buffer | null;
  isInternal: boolean;
  partitions: MetadataPartition[];
}

export interface MetadataResponse {
  throttleTimeMs: number;
  brokers: MetadataBroker[];
  clusterId: string | null;
  controllerId: number;
  topics: MetadataTopic[];
}

const FLEXIBLE_FROM = 9;
const ZERO_UUID = Buffer.alloc(16);

export const Metadata: ApiDescriptor<MetadataRequest, MetadataResponse> = {
  apiKey: ApiKey.Metadata,
  minVersion: 1,
  maxVersion: 12,
  flexibleFrom: FLEXIBLE_FROM,
  responseHeaderV0: false,

  encode(version, req) {
    checkVersion(Metadata, version);
    const w = new Writer(64 + (req.topics?.length ?? 0) * 32);
    if (version >= FLEXIBLE_FROM) {
      w.compactArray(req.topics, (tw, name) => {
        if (version >= 10) tw.uuid(ZERO_UUID);
        tw.compactString(name).emptyTaggedFields();
      });
    } else {
      w.array(req.topics, (tw, name) => tw.string(name));
    }
    if (version >= 4) w.boolean(req.allowAutoTopicCreation);
    if (version >= 8) {
      if (version <= 10) w.boolean(false); // include_cluster_authorized_operations
      w.boolean(false); // include_topic_authorized_operations
    }
    if (version >= FLEXIBLE_FROM) w.emptyTaggedFields();
    return w.finish();
  },

  decode(version, r) {
    r.context = `Metadata v${version}`;
    const flexible = version >= FLEXIBLE_FROM;
    const str = flexible ? (f: string) => r.compactString(f) : (f: string) => r.string(f);
    const nullableStr = flexible ? (f: string) => r.compactNullableString(f) : (f: string) => r.nullableString(f);
    const arr = <T>(field: string, minItemBytes: number, each: (r: Reader) => T): T[] =>
      flexible ? r.compactArray(each, field, minItemBytes) : r.array(each, field, minItemBytes);
    const int32s = (field: string): number[] => arr(field, 4, (ir) => ir.int32());
    const endStruct = flexible ? () => r.skipTaggedFields() : () => undefined;

    const throttleTimeMs = version >= 3 ? r.int32() : 0;
    const brokers = arr('brokers', 1, (): MetadataBroker => {
      const broker = { nodeId: r.int32(), host: str('host'), port: r.int32(), rack: nullableStr('rack') };
      endStruct();
      return broker;
    });
    const clusterId = version >= 2 ? nullableStr('cluster_id') : null;
    const controllerId = r.int32();
    const topics = arr('topics', 1, (): MetadataTopic => {
      const errorCode = r.int16();
      const name = version >= 12 ? nullableStr('topic name') : str('topic name');
      const topicId = version >= 10 ? Buffer.from(r.uuid('topic_id')) : null;
      const isInternal = r.boolean();
      const partitions = arr('partitions', 1, (): MetadataPartition => {
        const p: MetadataPartition = {
          errorCode: r.int16(),
          partitionIndex: r.int32(),
          leaderId: r.int32(),
          leaderEpoch: version >= 7 ? r.int32() : -1,
          replicaNodes: int32s('replica_nodes'),
          isrNodes: int32s('isr_nodes'),
          offlineReplicas: version >= 5 ? int32s('offline_replicas') : [],
        };
        endStruct();
        return p;
      });
      if (version >= 8) r.int32(); // topic_authorized_operations: not requested
      endStruct();
      return { errorCode, name, topicId, isInternal, partitions };
    });
    if (version >= 8 && version <= 10) r.int32(); // cluster_authorized_operations: not requested
    endStruct();
    return { throttleTimeMs, brokers, clusterId, controllerId, topics };
  },
};
