// @confluentinc/kafka-javascript: librdkafka under a KafkaJS-like API (its KafkaJS namespace),
// built in bench/peers with CKJS_LINKING=dynamic (its bundled librdkafka, linked against the
// system's openssl, zlib, zstd, lz4: no prebuilt binary to download). Unlike KafkaJS, acks and
// compression belong to the producer's config, not to send(). librdkafka batches behind every
// send() with its default linger.ms of 5.
import { createRequire } from 'node:module';
import { checkKafkajsResult, pkgVersion } from './common.mjs';

const require = createRequire(import.meta.url);

export function variants() {
  const v = pkgVersion('@confluentinc/kafka-javascript');
  return [
    {
      id: 'confluent',
      label: `@confluentinc/kafka-javascript ${v}`,
      supports() {
        if (!v) return '@confluentinc/kafka-javascript is not installed in bench/peers (npm run setup there)';
        try {
          require('@confluentinc/kafka-javascript');
        } catch (e) {
          return `@confluentinc/kafka-javascript does not load (${String(e.message).split('\n')[0]})`;
        }
        return null;
      },
      settings: (c) =>
        `producer({${c.lingerMs !== undefined ? `'linger.ms': ${c.lingerMs}, ` : ''}kafkaJS: {acks: ${c.acks}, compression: '${c.codec}', idempotent: false}}); ${c.lingerMs !== undefined ? '' : 'linger.ms 5, '}batch.size 1000000 (librdkafka defaults)`,
      async open(ctx) {
        const { Kafka, logLevel } = require('@confluentinc/kafka-javascript').KafkaJS;
        const kafka = new Kafka({ kafkaJS: { clientId: 'bench-peers', brokers: ctx.bootstrap.split(','), logLevel: logLevel.NOTHING } });
        // A librdkafka key beside the kafkaJS block is how its docs set what KafkaJS has no option for.
        const linger = ctx.case.lingerMs !== undefined ? { 'linger.ms': ctx.case.lingerMs } : {};
        const producer = kafka.producer({ ...linger, kafkaJS: { acks: ctx.case.acks, compression: ctx.case.codec, idempotent: false } });
        await producer.connect();
        const topic = ctx.topic;
        return {
          batchCalls: true,
          makeCall: (values) => ({ n: values.length, messages: values.map((value) => ({ value })) }),
          call: (p) =>
            producer.send({ topic, messages: p.messages }).then((r) => {
              checkKafkajsResult(r, topic);
              return p.n;
            }),
          close: () => producer.disconnect(),
        };
      },
    },
  ];
}
