/**
 * OpenTelemetry spans from kafka-turbo's diagnostics_channel tracing (ts/metrics/tracing.ts).
 *
 * An example, not part of the package: it is not compiled by the project's tsconfig and
 * @opentelemetry/api is not a dependency. To use it, install @opentelemetry/api (and an SDK
 * that registers a tracer provider), copy this file into your app and call
 * `instrumentKafkaTurbo()` once at start-up, before producing.
 *
 * One PRODUCER span per send() ("send <topic>"), ended when the record is acknowledged or
 * fails, and one CLIENT span per ProduceRequest ("produce node-<id>"), with the attributes
 * of OpenTelemetry's messaging semantic conventions where they apply. The channels' contexts
 * are plain objects the producer builds only while someone subscribes, so this costs nothing
 * until it is called, and `uninstrument()` stops it.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { PRODUCE_CHANNEL, SEND_CHANNEL, type ProduceTraceContext, type SendTraceContext } from 'kafka-turbo';

export function instrumentKafkaTurbo(tracerName = 'kafka-turbo'): () => void {
  const tracer = trace.getTracer(tracerName);
  // The channels hand the same context object to every event of one operation.
  const spans = new WeakMap<object, Span>();

  const send = diagnosticsChannel.tracingChannel<object, SendTraceContext>(SEND_CHANNEL);
  const sendHandlers = {
    start(ctx: SendTraceContext) {
      const record = ctx.record as { topic?: string; partition?: number; key?: unknown };
      const topic = String(record?.topic ?? '');
      spans.set(
        ctx,
        tracer.startSpan(`send ${topic}`, {
          kind: SpanKind.PRODUCER,
          attributes: {
            'messaging.system': 'kafka',
            'messaging.operation.type': 'send',
            'messaging.destination.name': topic,
            ...(record?.partition !== undefined ? { 'messaging.destination.partition.id': String(record.partition) } : {}),
          },
        }),
      );
    },
    end() {},
    asyncStart() {},
    asyncEnd(ctx: SendTraceContext) {
      const span = spans.get(ctx);
      if (!span) return;
      const md = ctx.result as { partition: number; offset: number } | undefined;
      if (md) {
        span.setAttribute('messaging.destination.partition.id', String(md.partition));
        span.setAttribute('messaging.kafka.offset', md.offset);
      }
      span.end();
      spans.delete(ctx);
    },
    error(ctx: SendTraceContext) {
      const span = spans.get(ctx);
      if (!span) return;
      const err = ctx.error as Error;
      span.recordException(err);
      span.setStatus({ code: SpanStatusCode.ERROR, message: err?.message });
    },
  };

  const produce = diagnosticsChannel.tracingChannel<object, ProduceTraceContext>(PRODUCE_CHANNEL);
  const produceHandlers = {
    start(ctx: ProduceTraceContext) {
      spans.set(
        ctx,
        tracer.startSpan(`produce node-${ctx.node}`, {
          kind: SpanKind.CLIENT,
          attributes: {
            'messaging.system': 'kafka',
            'messaging.batch.message_count': ctx.records,
            'server.address': ctx.broker,
            'kafka_turbo.request.bytes': ctx.bytes,
            'kafka_turbo.request.partitions': ctx.partitions.length,
            'kafka_turbo.acks': ctx.acks,
          },
        }),
      );
    },
    end() {},
    asyncStart() {},
    asyncEnd(ctx: ProduceTraceContext) {
      const span = spans.get(ctx);
      if (!span) return;
      // The decoded ProduceResponse: a partition error is the broker's answer, not a failed request.
      const res = ctx.result as { responses: { partitionResponses: { errorCode: number }[] }[] } | null | undefined;
      const errors = res ? res.responses.flatMap((t) => t.partitionResponses).filter((p) => p.errorCode !== 0).length : 0;
      span.setAttribute('kafka_turbo.partition_errors', errors);
      span.end();
      spans.delete(ctx);
    },
    error(ctx: ProduceTraceContext) {
      const span = spans.get(ctx);
      if (!span) return;
      span.recordException(ctx.error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (ctx.error as Error)?.message });
    },
  };

  send.subscribe(sendHandlers);
  produce.subscribe(produceHandlers);
  return function uninstrument() {
    send.unsubscribe(sendHandlers);
    produce.unsubscribe(produceHandlers);
  };
}
