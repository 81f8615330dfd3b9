/**
 * Kafka error codes: what each one is called, whether trying again can help, and what it means.
 *
 * `type` is the name KafkaJS gives the code, because KafkaJS apps compare `error.type`
 * (KafkaJS keeps some pre-2.6 names: 'NOT_LEADER_FOR_PARTITION' for 6, 'GROUP_LOAD_IN_PROGRESS'
 * for 14, ...). Codes KafkaJS does not know (89 and up) use the Java client's names.
 * `retriable` follows the Java client: true exactly when its exception for the code is a
 * RetriableException (which includes InvalidMetadataException). For the codes KafkaJS knows,
 * KafkaJS 2.2 agrees on every flag (test/unit/protocol/error-codes.test.ts checks both).
 * The `ErrorCode` constants use the Java names, which are the ones in the protocol docs.
 * The flags were checked against apache/kafka's Errors.java (each code's exception class and
 * its superclasses) for every code up to 128; 129-133 are newer than that check.
 */

export interface KafkaErrorCode {
  code: number;
  type: string;
  retriable: boolean;
  message: string;
}

export const ErrorCode = {
  UNKNOWN_SERVER_ERROR: -1,
  NONE: 0,
  OFFSET_OUT_OF_RANGE: 1,
  CORRUPT_MESSAGE: 2,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  LEADER_NOT_AVAILABLE: 5,
  NOT_LEADER_OR_FOLLOWER: 6,
  REQUEST_TIMED_OUT: 7,
  BROKER_NOT_AVAILABLE: 8,
  REPLICA_NOT_AVAILABLE: 9,
  MESSAGE_TOO_LARGE: 10,
  NETWORK_EXCEPTION: 13,
  COORDINATOR_LOAD_IN_PROGRESS: 14,
  COORDINATOR_NOT_AVAILABLE: 15,
  NOT_COORDINATOR: 16,
  INVALID_TOPIC_EXCEPTION: 17,
  RECORD_LIST_TOO_LARGE: 18,
  NOT_ENOUGH_REPLICAS: 19,
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: 20,
  INVALID_REQUIRED_ACKS: 21,
  TOPIC_AUTHORIZATION_FAILED: 29,
  GROUP_AUTHORIZATION_FAILED: 30,
  CLUSTER_AUTHORIZATION_FAILED: 31,
  INVALID_TIMESTAMP: 32,
  UNSUPPORTED_SASL_MECHANISM: 33,
  ILLEGAL_SASL_STATE: 34,
  UNSUPPORTED_VERSION: 35,
  INVALID_REQUEST: 42,
  UNSUPPORTED_FOR_MESSAGE_FORMAT: 43,
  POLICY_VIOLATION: 44,
  OUT_OF_ORDER_SEQUENCE_NUMBER: 45,
  DUPLICATE_SEQUENCE_NUMBER: 46,
  INVALID_PRODUCER_EPOCH: 47,
  INVALID_TXN_STATE: 48,
  INVALID_PRODUCER_ID_MAPPING: 49,
  INVALID_TRANSACTION_TIMEOUT: 50,
  CONCURRENT_TRANSACTIONS: 51,
  TRANSACTION_COORDINATOR_FENCED: 52,
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: 53,
  KAFKA_STORAGE_ERROR: 56,
  SASL_AUTHENTICATION_FAILED: 58,
  UNKNOWN_PRODUCER_ID: 59,
  LISTENER_NOT_FOUND: 72,
  FENCED_LEADER_EPOCH: 74,
  UNKNOWN_LEADER_EPOCH: 75,
  UNSUPPORTED_COMPRESSION_TYPE: 76,
  PREFERRED_LEADER_NOT_AVAILABLE: 80,
  ELIGIBLE_LEADERS_NOT_AVAILABLE: 83,
  ELECTION_NOT_NEEDED: 84,
  INVALID_RECORD: 87,
  THROTTLING_QUOTA_EXCEEDED: 89,
  PRODUCER_FENCED: 90,
  UNKNOWN_TOPIC_ID: 100,
  INCONSISTENT_TOPIC_ID: 103,
  TRANSACTIONAL_ID_NOT_FOUND: 105,
  TRANSACTION_ABORTABLE: 120,
  REBOOTSTRAP_REQUIRED: 129,
} as const;

/**
 * Partition errors that mean the producer's idea of the leader is out of date, so metadata
 * must be refreshed before the retry. This is the Java client's rule (Sender.completeBatch
 * asks for a metadata update when the exception is an InvalidMetadataException), spelled out
 * as the codes whose Java exception extends InvalidMetadataException, plus
 * UNKNOWN_LEADER_EPOCH: the broker knows an older epoch than ours, so our metadata may be
 * newer than the broker's or wrong, and a refresh costs one request.
 * LISTENER_NOT_FOUND is here because the leader we were told about has no endpoint on our
 * listener: typically metadata taken while the broker was still registering it.
 */
const STALE_METADATA: ReadonlySet<number> = new Set<number>([
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.REPLICA_NOT_AVAILABLE,
  ErrorCode.NETWORK_EXCEPTION,
  ErrorCode.KAFKA_STORAGE_ERROR,
  ErrorCode.LISTENER_NOT_FOUND,
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.UNKNOWN_LEADER_EPOCH,
  ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE,
  ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE,
  ErrorCode.ELECTION_NOT_NEEDED,
  ErrorCode.UNKNOWN_TOPIC_ID,
  ErrorCode.INCONSISTENT_TOPIC_ID,
]);

/** True when a partition error calls for a metadata refresh (see STALE_METADATA). */
export function isStaleMetadataError(code: number): boolean {
  return STALE_METADATA.has(code);
}

// [code, type, retriable, message]
type Row = readonly [number, string, boolean, string];

const ROWS: readonly Row[] = [
  [-1, 'UNKNOWN', false, 'The broker hit an unexpected error while handling the request'],
  [0, 'NONE', false, 'No error'],
  [1, 'OFFSET_OUT_OF_RANGE', false, 'The requested offset is outside the range the broker holds'],
  [2, 'CORRUPT_MESSAGE', true, 'The broker found the message corrupt: bad CRC, invalid size, or a null key on a compacted topic'],
  [3, 'UNKNOWN_TOPIC_OR_PARTITION', true, 'This broker does not host the topic-partition (it may not exist yet)'],
  [4, 'INVALID_FETCH_SIZE', false, 'The fetch size is invalid'],
  [5, 'LEADER_NOT_AVAILABLE', true, 'The partition has no leader right now (an election is under way)'],
  [6, 'NOT_LEADER_FOR_PARTITION', true, 'This broker is not the leader (or not a replica) of the partition'],
  [7, 'REQUEST_TIMED_OUT', true, 'The broker timed the request out'],
  [8, 'BROKER_NOT_AVAILABLE', false, 'The broker is not available'],
  [9, 'REPLICA_NOT_AVAILABLE', true, 'A replica of the partition is not available'],
  [10, 'MESSAGE_TOO_LARGE', false, 'The batch is larger than the broker or topic accepts (message.max.bytes / max.message.bytes)'],
  [11, 'STALE_CONTROLLER_EPOCH', false, 'The controller has moved to another broker'],
  [12, 'OFFSET_METADATA_TOO_LARGE', false, 'The offset commit metadata is too large'],
  [13, 'NETWORK_EXCEPTION', true, 'The broker lost its connection before it could answer'],
  [14, 'GROUP_LOAD_IN_PROGRESS', true, 'The coordinator is still loading and cannot serve requests yet'],
  [15, 'GROUP_COORDINATOR_NOT_AVAILABLE', true, 'The coordinator is not available'],
  [16, 'NOT_COORDINATOR_FOR_GROUP', true, 'This broker is not the coordinator'],
  [17, 'INVALID_TOPIC_EXCEPTION', false, 'The topic name is invalid or the topic cannot be written to'],
  [18, 'RECORD_LIST_TOO_LARGE', false, 'The batch is larger than the log segment size on the broker'],
  [19, 'NOT_ENOUGH_REPLICAS', true, 'Fewer in-sync replicas than min.insync.replicas: the write was refused'],
  [20, 'NOT_ENOUGH_REPLICAS_AFTER_APPEND', true, 'The write was appended, but to fewer in-sync replicas than required'],
  [21, 'INVALID_REQUIRED_ACKS', false, 'The acks value is invalid (use 0, 1 or -1)'],
  [22, 'ILLEGAL_GENERATION', false, 'The group generation id is not valid'],
  [23, 'INCONSISTENT_GROUP_PROTOCOL', false, "The member's protocols do not match the group's"],
  [24, 'INVALID_GROUP_ID', false, 'The group id is invalid'],
  [25, 'UNKNOWN_MEMBER_ID', false, 'The coordinator does not know this member'],
  [26, 'INVALID_SESSION_TIMEOUT', false, "The session timeout is outside the broker's allowed range"],
  [27, 'REBALANCE_IN_PROGRESS', false, 'The group is rebalancing; rejoin it'],
  [28, 'INVALID_COMMIT_OFFSET_SIZE', false, 'The offset commit is too large'],
  [29, 'TOPIC_AUTHORIZATION_FAILED', false, 'Not authorized to access the topic'],
  [30, 'GROUP_AUTHORIZATION_FAILED', false, 'Not authorized to access the group'],
  [31, 'CLUSTER_AUTHORIZATION_FAILED', false, 'Not authorized for this cluster operation (idempotent writes need IdempotentWrite on older brokers)'],
  [32, 'INVALID_TIMESTAMP', false, "The record timestamp is outside the broker's accepted range"],
  [33, 'UNSUPPORTED_SASL_MECHANISM', false, 'The broker does not support this SASL mechanism'],
  [34, 'ILLEGAL_SASL_STATE', false, 'The request is not valid in the current SASL state'],
  [35, 'UNSUPPORTED_VERSION', false, 'The broker does not support this API version'],
  [36, 'TOPIC_ALREADY_EXISTS', false, 'A topic with this name already exists'],
  [37, 'INVALID_PARTITIONS', false, 'The number of partitions is invalid'],
  [38, 'INVALID_REPLICATION_FACTOR', false, 'The replication factor is invalid'],
  [39, 'INVALID_REPLICA_ASSIGNMENT', false, 'The replica assignment is invalid'],
  [40, 'INVALID_CONFIG', false, 'The configuration is invalid'],
  [41, 'NOT_CONTROLLER', true, 'This broker is not the controller'],
  [42, 'INVALID_REQUEST', false, 'The broker could not parse or accept the request; see its logs'],
  [43, 'UNSUPPORTED_FOR_MESSAGE_FORMAT', false, "The broker's message format does not support this request"],
  [44, 'POLICY_VIOLATION', false, 'The request breaks a policy configured on the broker'],
  [45, 'OUT_OF_ORDER_SEQUENCE_NUMBER', false, 'The broker received a batch whose sequence number is out of order'],
  [46, 'DUPLICATE_SEQUENCE_NUMBER', false, 'The broker already has a batch with this sequence number'],
  [47, 'INVALID_PRODUCER_EPOCH', false, 'The producer epoch is stale: another producer took over, or the transaction expired'],
  [48, 'INVALID_TXN_STATE', false, 'The transactional operation is not valid in the current transaction state'],
  [49, 'INVALID_PRODUCER_ID_MAPPING', false, 'The producer id is not the one assigned to this transactional id'],
  [50, 'INVALID_TRANSACTION_TIMEOUT', false, 'The transaction timeout is above the broker maximum (transaction.max.timeout.ms)'],
  [51, 'CONCURRENT_TRANSACTIONS', true, 'Another operation on the same transaction is still in progress'],
  [52, 'TRANSACTION_COORDINATOR_FENCED', false, 'The transaction coordinator writing the marker is no longer the current one'],
  [53, 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED', false, 'Not authorized to use the transactional id'],
  [54, 'SECURITY_DISABLED', false, 'Security features are disabled on the broker'],
  [55, 'OPERATION_NOT_ATTEMPTED', false, 'The broker skipped this operation because another one in the same request failed'],
  [56, 'KAFKA_STORAGE_ERROR', true, 'The broker hit a disk error on the log'],
  [57, 'LOG_DIR_NOT_FOUND', false, "The log directory is not in the broker's configuration"],
  [58, 'SASL_AUTHENTICATION_FAILED', false, 'SASL authentication failed'],
  [59, 'UNKNOWN_PRODUCER_ID', false, 'The broker has no state for this producer id (its records may have been deleted by retention)'],
  [60, 'REASSIGNMENT_IN_PROGRESS', false, 'A partition reassignment is in progress'],
  [61, 'DELEGATION_TOKEN_AUTH_DISABLED', false, 'Delegation tokens are not enabled'],
  [62, 'DELEGATION_TOKEN_NOT_FOUND', false, 'The delegation token was not found'],
  [63, 'DELEGATION_TOKEN_OWNER_MISMATCH', false, 'The principal is not the owner or renewer of the token'],
  [64, 'DELEGATION_TOKEN_REQUEST_NOT_ALLOWED', false, 'Delegation token requests are not allowed on this connection'],
  [65, 'DELEGATION_TOKEN_AUTHORIZATION_FAILED', false, 'Delegation token authorization failed'],
  [66, 'DELEGATION_TOKEN_EXPIRED', false, 'The delegation token has expired'],
  [67, 'INVALID_PRINCIPAL_TYPE', false, 'The principal type is not supported'],
  [68, 'NON_EMPTY_GROUP', false, 'The group is not empty'],
  [69, 'GROUP_ID_NOT_FOUND', false, 'The group id does not exist'],
  [70, 'FETCH_SESSION_ID_NOT_FOUND', true, 'The fetch session id was not found'],
  [71, 'INVALID_FETCH_SESSION_EPOCH', true, 'The fetch session epoch is invalid'],
  [72, 'LISTENER_NOT_FOUND', true, 'The leader has no listener matching the one the metadata request came in on'],
  [73, 'TOPIC_DELETION_DISABLED', false, 'Topic deletion is disabled'],
  [74, 'FENCED_LEADER_EPOCH', true, "The request's leader epoch is older than the broker's"],
  [75, 'UNKNOWN_LEADER_EPOCH', true, "The request's leader epoch is newer than the broker's"],
  [76, 'UNSUPPORTED_COMPRESSION_TYPE', false, 'The broker does not support this compression type for the request'],
  [77, 'STALE_BROKER_EPOCH', false, 'The broker epoch has changed'],
  [78, 'OFFSET_NOT_AVAILABLE', true, 'The leader high watermark has not caught up after an election yet'],
  [79, 'MEMBER_ID_REQUIRED', false, 'The member needs a member id before joining the group'],
  [80, 'PREFERRED_LEADER_NOT_AVAILABLE', true, 'The preferred leader is not available'],
  [81, 'GROUP_MAX_SIZE_REACHED', false, 'The group has reached its maximum size'],
  [82, 'FENCED_INSTANCE_ID', false, 'Another member with the same group.instance.id fenced this one'],
  [83, 'ELIGIBLE_LEADERS_NOT_AVAILABLE', true, 'No eligible leader is available for the partition'],
  [84, 'ELECTION_NOT_NEEDED', true, 'No leader election is needed for the partition'],
  [85, 'NO_REASSIGNMENT_IN_PROGRESS', false, 'No partition reassignment is in progress'],
  [86, 'GROUP_SUBSCRIBED_TO_TOPIC', false, 'The group is subscribed to the topic, so its offsets cannot be deleted'],
  [87, 'INVALID_RECORD', false, 'The broker rejected a record as invalid (e.g. a null key on a compacted topic)'],
  [88, 'UNSTABLE_OFFSET_COMMIT', true, 'There are unstable offsets that must be resolved first'],
  [89, 'THROTTLING_QUOTA_EXCEEDED', true, 'A throttling quota was exceeded'],
  [90, 'PRODUCER_FENCED', false, 'A newer producer with the same transactional id fenced this one'],
  [91, 'RESOURCE_NOT_FOUND', false, 'The request refers to a resource that does not exist'],
  [92, 'DUPLICATE_RESOURCE', false, 'The request refers to the same resource twice'],
  [93, 'UNACCEPTABLE_CREDENTIAL', false, 'The credential does not meet the acceptance criteria'],
  [94, 'INCONSISTENT_VOTER_SET', false, 'The sender or receiver of a voter request is not an expected voter'],
  [95, 'INVALID_UPDATE_VERSION', false, 'The update version is invalid'],
  [96, 'FEATURE_UPDATE_FAILED', false, 'The finalized features could not be updated'],
  [97, 'PRINCIPAL_DESERIALIZATION_FAILURE', false, 'The broker could not deserialize the forwarded principal'],
  [98, 'SNAPSHOT_NOT_FOUND', false, 'The snapshot was not found'],
  [99, 'POSITION_OUT_OF_RANGE', false, 'The snapshot position is out of range'],
  [100, 'UNKNOWN_TOPIC_ID', true, 'This broker does not host a topic with this id'],
  [101, 'DUPLICATE_BROKER_REGISTRATION', false, 'This broker id is already registered'],
  [102, 'BROKER_ID_NOT_REGISTERED', false, 'The broker id is not registered'],
  [103, 'INCONSISTENT_TOPIC_ID', true, "The topic id does not match the broker's"],
  [104, 'INCONSISTENT_CLUSTER_ID', false, 'The cluster id does not match'],
  [105, 'TRANSACTIONAL_ID_NOT_FOUND', false, 'The transactional id was not found'],
  [106, 'FETCH_SESSION_TOPIC_ID_ERROR', true, 'The fetch session met a topic id problem'],
  [107, 'INELIGIBLE_REPLICA', false, 'The replica is not eligible to join the ISR'],
  [108, 'NEW_LEADER_ELECTED', false, 'A new leader was elected while the ISR update was pending'],
  [109, 'OFFSET_MOVED_TO_TIERED_STORAGE', false, 'The offset has moved to tiered storage'],
  [110, 'FENCED_MEMBER_EPOCH', false, 'The member epoch is fenced'],
  [111, 'UNRELEASED_INSTANCE_ID', false, 'The instance id is still in use by another member'],
  [112, 'UNSUPPORTED_ASSIGNOR', false, 'The assignor is not supported'],
  [113, 'STALE_MEMBER_EPOCH', false, 'The member epoch is stale'],
  [114, 'MISMATCHED_ENDPOINT_TYPE', false, 'The request was sent to an endpoint of the wrong type'],
  [115, 'UNSUPPORTED_ENDPOINT_TYPE', false, 'This endpoint type does not support the request'],
  [116, 'UNKNOWN_CONTROLLER_ID', false, 'The controller id is unknown'],
  [117, 'UNKNOWN_SUBSCRIPTION_ID', false, 'The client telemetry subscription id is unknown'],
  [118, 'TELEMETRY_TOO_LARGE', false, 'The client telemetry payload is too large'],
  [119, 'INVALID_REGISTRATION', false, 'The registration is invalid'],
  [120, 'TRANSACTION_ABORTABLE', false, 'The transaction must be aborted; the producer can carry on after the abort'],
  [121, 'INVALID_RECORD_STATE', false, 'The record state is invalid'],
  [122, 'SHARE_SESSION_NOT_FOUND', true, 'The share session was not found'],
  [123, 'INVALID_SHARE_SESSION_EPOCH', true, 'The share session epoch is invalid'],
  [124, 'FENCED_STATE_EPOCH', false, 'The share state epoch is fenced'],
  [125, 'INVALID_VOTER_KEY', false, 'The voter key does not match'],
  [126, 'DUPLICATE_VOTER', false, 'The voter is already in the voter set'],
  [127, 'VOTER_NOT_FOUND', false, 'The voter is not in the voter set'],
  [128, 'INVALID_REGULAR_EXPRESSION', false, 'The regular expression is invalid'],
  [129, 'REBOOTSTRAP_REQUIRED', false, 'The client metadata is stale; it must bootstrap again'],
  [130, 'STREAMS_INVALID_TOPOLOGY', false, 'The streams topology is invalid'],
  [131, 'STREAMS_INVALID_TOPOLOGY_EPOCH', false, 'The streams topology epoch is invalid'],
  [132, 'STREAMS_TOPOLOGY_FENCED', false, 'The streams topology epoch is outdated'],
  [133, 'SHARE_SESSION_LIMIT_REACHED', true, 'The limit of share sessions has been reached'],
];

const BY_CODE: ReadonlyMap<number, KafkaErrorCode> = new Map(
  ROWS.map(([code, type, retriable, message]) => [code, Object.freeze({ code, type, retriable, message })]),
);

/** What a broker error code means. Codes this table does not know come back as type 'UNKNOWN',
 * not retriable, with the number kept in `code` and `message`. */
export function errorForCode(code: number): KafkaErrorCode {
  return (
    BY_CODE.get(code) ?? {
      code,
      type: 'UNKNOWN',
      retriable: false,
      message: `The broker returned error code ${code}, which this client does not know`,
    }
  );
}
