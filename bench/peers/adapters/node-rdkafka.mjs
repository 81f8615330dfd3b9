// node-rdkafka: librdkafka's classic binding (its bundled librdkafka, built by its install
// script). produce() takes one message and returns at once; the outcome arrives as a
// 'delivery-report' event, which only comes when the app polls: setPollInterval(1) here, the
// shortest interval a Node timer has (its README's examples use 100 ms, which would put 100 ms
// on every awaited send). Each call gets a promise resolved from its report (the opaque).
import { createRequire } from 'node:module';
import { pkgVersion } from './common.mjs';

const require = createRequire(import.meta.url);

export function variants() {
  const v = pkgVersion('node-rdkafka');
  return [
    {
      id: 'node-rdkafka',
      label: `node-rdkafka ${v}`,
      supports() {
        if (!v) return 'node-rdkafka is not installed in bench/peers (npm run setup there)';
        try {
          require('node-rdkafka');
        } catch (e) {
          return `node-rdkafka does not load (${String(e.message).split('\n')[0]})`;
        }
        return null;
      },
      settings: (c) =>
        `acks=${c.acks === -1 ? 'all' : c.acks} compression.codec=${c.codec} enable.idempotence=false dr_cb; ${c.lingerMs !== undefined ? `linger.ms ${c.lingerMs}, ` : 'linger.ms 5, '}batch.size 1000000 (librdkafka defaults${c.lingerMs !== undefined ? ' but linger' : ''}); setPollInterval(1)`,
      async open(ctx) {
        const Kafka = require('node-rdkafka');
        const topic = ctx.topic;
        const producer = new Kafka.Producer({
          'metadata.broker.list': ctx.bootstrap,
          'client.id': 'bench-peers',
          acks: ctx.case.acks,
          'compression.codec': ctx.case.codec,
          'enable.idempotence': false,
          dr_cb: true,
          ...(ctx.case.lingerMs !== undefined ? { 'linger.ms': ctx.case.lingerMs } : {}),
        });
        producer.on('delivery-report', (err, report) => {
          const w = report.opaque;
          if (err) w.reject(err);
          else if (report.topic !== topic || !(report.offset >= 0)) w.reject(new Error(`bad delivery report ${JSON.stringify(report)}`));
          else w.resolve(1);
        });
        await new Promise((resolve, reject) => {
          producer.once('ready', resolve);
          producer.once('connection.failure', reject);
          producer.connect();
        });
        producer.setPollInterval(1);
        return {
          batchCalls: false,
          makeCall: (values) => values[0],
          call: (value) =>
            new Promise((resolve, reject) => {
              // Throws when librdkafka's queue is full (queue.buffering.max.messages, 100k): the
              // shapes here keep at most 8000 records in flight, so that is a failure, not a wait.
              producer.produce(topic, null, value, null, null, { resolve, reject });
            }),
          close: () =>
            new Promise((resolve, reject) => {
              producer.disconnect(10_000, (err) => (err ? reject(err) : resolve()));
            }),
        };
      },
    },
  ];
}
