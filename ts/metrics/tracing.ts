/**
 * Tracing through node:diagnostics_channel, so APMs (OpenTelemetry, Datadog, ...) can follow
 * the producer without it depending on any of them (examples/opentelemetry.ts makes spans).
 *
 *   kafka-turbo:send     one send: start at the call, asyncEnd when its promise settles.
 *                        Context: { record } (the Java-style record as given to send(); for
 *                        the KafkaJS facade, the call's { topicMessages, acks, ... }), then
 *                        `result` (RecordMetadata, or KafkaJS's RecordMetadata[]) or `error`.
 *   kafka-turbo:produce  one ProduceRequest: start when the sender hands it to the connection,
 *                        asyncEnd when the response arrives (or, with acks=0, when written).
 *                        Context: { node, broker, acks, records, bytes, partitions:
 *                        [{ topic, partition, records, bytes }] }, then `result` (the decoded
 *                        ProduceResponse: per partition errorCode and baseOffset; null with
 *                        acks=0) or `error`.
 *
 * They are TracingChannels (start / end / asyncStart / asyncEnd / error), so a subscriber's
 * AsyncLocalStorage bound to `start` sees its store in the code that settles the promise.
 * When no one subscribes, the producer builds no context and publishes nothing: each path
 * asks `subscribed()` first.
 */
import diagnosticsChannel from 'node:diagnostics_channel';

export interface SendTraceContext {
  record: unknown;
  result?: unknown;
  error?: unknown;
}

export interface ProduceTraceContext {
  node: number;
  broker: string;
  acks: number;
  records: number;
  bytes: number;
  partitions: { topic: string; partition: number; records: number; bytes: number }[];
  result?: unknown;
  error?: unknown;
}

export const SEND_CHANNEL = 'kafka-turbo:send';
export const PRODUCE_CHANNEL = 'kafka-turbo:produce';

export const sendChannel = diagnosticsChannel.tracingChannel<object, SendTraceContext>(SEND_CHANNEL);
export const produceChannel = diagnosticsChannel.tracingChannel<object, ProduceTraceContext>(PRODUCE_CHANNEL);

type AnyTracingChannel = ReturnType<typeof diagnosticsChannel.tracingChannel>;

/** True when anyone listens on the channel. TracingChannel.hasSubscribers came with Node
 * 20.13; before it, its five channels are asked one by one. */
export function subscribed(tc: AnyTracingChannel): boolean {
  const own = (tc as { hasSubscribers?: boolean }).hasSubscribers;
  if (own !== undefined) return own;
  return (
    tc.start.hasSubscribers || tc.end.hasSubscribers || tc.asyncStart.hasSubscribers || tc.asyncEnd.hasSubscribers || tc.error.hasSubscribers
  );
}

/** The produce channel's context for one request; built only when someone subscribes. */
export function produceContext(
  node: number,
  broker: string,
  acks: number,
  batches: ReadonlyArray<{ readonly tp: { readonly topic: string; readonly partition: number }; readonly records: { length: number }; readonly bytes: { readonly length: number } | null }>,
): ProduceTraceContext {
  let records = 0;
  let bytes = 0;
  const partitions = batches.map((b) => {
    const size = b.bytes === null ? 0 : b.bytes.length;
    records += b.records.length;
    bytes += size;
    return { topic: b.tp.topic, partition: b.tp.partition, records: b.records.length, bytes: size };
  });
  return { node, broker, acks, records, bytes, partitions };
}
