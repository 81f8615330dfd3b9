/**
 * Kafka API keys. `ApiKey` names the requests a producer sends (plus the SASL ones a
 * connection may need); `apiName` knows every key the protocol defines so logs and
 * instrumentation events can name whatever a broker lists in its ApiVersions response.
 */

export const ApiKey = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  SaslHandshake: 17,
  ApiVersions: 18,
  InitProducerId: 22,
  AddPartitionsToTxn: 24,
  AddOffsetsToTxn: 25,
  EndTxn: 26,
  TxnOffsetCommit: 28,
  SaslAuthenticate: 36,
  DescribeCluster: 60,
  DescribeProducers: 61,
  DescribeTransactions: 65,
  GetTelemetrySubscriptions: 71,
  PushTelemetry: 72,
} as const;

export type ApiKeyName = keyof typeof ApiKey;

/** Names indexed by API key, as the Kafka protocol documentation spells them. */
const API_NAMES: readonly string[] = [
  'Produce', 'Fetch', 'ListOffsets', 'Metadata', 'LeaderAndIsr', 'StopReplica', 'UpdateMetadata',
  'ControlledShutdown', 'OffsetCommit', 'OffsetFetch', 'FindCoordinator', 'JoinGroup', 'Heartbeat',
  'LeaveGroup', 'SyncGroup', 'DescribeGroups', 'ListGroups', 'SaslHandshake', 'ApiVersions',
  'CreateTopics', 'DeleteTopics', 'DeleteRecords', 'InitProducerId', 'OffsetForLeaderEpoch',
  'AddPartitionsToTxn', 'AddOffsetsToTxn', 'EndTxn', 'WriteTxnMarkers', 'TxnOffsetCommit',
  'DescribeAcls', 'CreateAcls', 'DeleteAcls', 'DescribeConfigs', 'AlterConfigs',
  'AlterReplicaLogDirs', 'DescribeLogDirs', 'SaslAuthenticate', 'CreatePartitions',
  'CreateDelegationToken', 'RenewDelegationToken', 'ExpireDelegationToken',
  'DescribeDelegationToken', 'DeleteGroups', 'ElectLeaders', 'IncrementalAlterConfigs',
  'AlterPartitionReassignments', 'ListPartitionReassignments', 'OffsetDelete',
  'DescribeClientQuotas', 'AlterClientQuotas', 'DescribeUserScramCredentials',
  'AlterUserScramCredentials', 'Vote', 'BeginQuorumEpoch', 'EndQuorumEpoch', 'DescribeQuorum',
  'AlterPartition', 'UpdateFeatures', 'Envelope', 'FetchSnapshot', 'DescribeCluster',
  'DescribeProducers', 'BrokerRegistration', 'BrokerHeartbeat', 'UnregisterBroker',
  'DescribeTransactions', 'ListTransactions', 'AllocateProducerIds', 'ConsumerGroupHeartbeat',
  'ConsumerGroupDescribe', 'ControllerRegistration', 'GetTelemetrySubscriptions', 'PushTelemetry',
  'AssignReplicasToDirs', 'ListConfigResources', 'DescribeTopicPartitions', 'ShareGroupHeartbeat',
  'ShareGroupDescribe', 'ShareFetch', 'ShareAcknowledge', 'AddRaftVoter', 'RemoveRaftVoter',
  'UpdateRaftVoter', 'InitializeShareGroupState', 'ReadShareGroupState', 'WriteShareGroupState',
  'DeleteShareGroupState', 'ReadShareGroupStateSummary', 'StreamsGroupHeartbeat',
  'StreamsGroupDescribe', 'DescribeShareGroupOffsets', 'AlterShareGroupOffsets',
  'DeleteShareGroupOffsets',
];

/** The protocol's name for an API key, or `Unknown(<key>)`. */
export function apiName(key: number): string {
  return API_NAMES[key] ?? `Unknown(${key})`;
}
