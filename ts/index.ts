/**
 * kafka-turbo's public exports, and nothing else.
 *
 * Two surfaces over one core:
 *   - the Java-style Producer (Java producer configuration keys, send(record) per record);
 *   - the KafkaJS facade (Kafka, producer(), Partitioners, CompressionTypes, logLevel and
 *     KafkaJS's error classes), so that `require('kafkajs')` → `require('kafka-turbo')` works.
 *
 * Type names: KafkaJS's (ProducerRecord, RecordMetadata, Message, ...) are exported under
 * their KafkaJS names, so a KafkaJS app's type annotations keep compiling; the Java-style
 * types carry a Kafka prefix (KafkaProducerRecord, KafkaRecordMetadata, KafkaProducerConfig).
 * The one clash is `Producer`: here it is the Java-style class; KafkaJS's `Producer` type is
 * exported from 'kafka-turbo/kafkajs', which is the KafkaJS surface alone.
 */
export { Producer, Producer as KafkaProducer } from './producer/producer.js';
export type {
  ProducerRecord as KafkaProducerRecord,
  RecordMetadata as KafkaRecordMetadata,
  SendCallback,
  ProducerOptions as KafkaProducerOptions,
} from './producer/producer.js';
export type { ProducerConfig as KafkaProducerConfig } from './producer/options.js';
export type { NodeInfo, PartitionInfo } from './producer/producer.js';
export type { ProducerInterceptor } from './producer/interceptors.js';
export type { Serializer, SerializerName, SerializerSpec } from './producer/serializers.js';
export { toPrometheusText } from './metrics/prometheus.js';
export type { Metric, MetricName } from './metrics/producer-metrics.js';
export { SEND_CHANNEL, PRODUCE_CHANNEL } from './metrics/tracing.js';
export type { SendTraceContext, ProduceTraceContext } from './metrics/tracing.js';
export type { PartitionFn, PartitionerContext } from './producer/partitioners.js';
export { murmur2 } from './producer/partitioners.js';
export { backendInfo } from './backend/load.js';
export type { BackendInfo } from './backend/types.js';
export * from './errors.js';
export { SslAuthenticationError } from './net/tls.js';
export * from './kafkajs/index.js';
