/**
 * kafka-turbo's public exports, and nothing else.
 *
 * Two surfaces over one core:
 *   - the Java-style Producer (Java producer configuration keys, send(record) per record);
 *   - the KafkaJS facade (Kafka, producer(), Partitioners, CompressionTypes, logLevel and
 *     KafkaJS's error classes), so that `require('kafkajs')` → `require('kafka-turbo')` works.
 */
export { Producer } from './producer/producer.js';
export type { ProducerRecord, RecordMetadata, SendCallback, ProducerOptions } from './producer/producer.js';
export type { ProducerConfig } from './producer/options.js';
export type { PartitionFn, PartitionerContext } from './producer/partitioners.js';
export { murmur2 } from './producer/partitioners.js';
export { backendInfo } from './backend/load.js';
export type { BackendInfo } from './backend/types.js';
export * from './errors.js';
export * from './kafkajs/index.js';
