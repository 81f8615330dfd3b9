// kafka-turbo itself, from the root's build (dist/cjs), through both of its APIs: the KafkaJS
// facade (send({topic, messages}): one promise per call) and the Java-style Producer
// (send(record): one promise per record). Each is set the way an app switching to it would:
// its own defaults, except acks, codec and idempotence, which every peer gets the same.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { checkKafkajsResult, KAFKAJS_CODEC_KEY } from './common.mjs';

const require = createRequire(import.meta.url);
const DIST = fileURLToPath(new URL('../../../dist/cjs/index.js', import.meta.url));

function turbo() {
  return require(DIST);
}

function backend() {
  try {
    return turbo().backendInfo().backend;
  } catch {
    return null;
  }
}

function version() {
  return require(fileURLToPath(new URL('../../../package.json', import.meta.url))).version;
}

export function variants() {
  const b = backend();
  const base = { highlight: true, supports: () => (b ? null : `kafka-turbo does not load from ${DIST}: run npm run build`) };
  return [
    {
      ...base,
      id: 'kafka-turbo-kafkajs',
      label: `kafka-turbo ${version()} kafkajs-api (${b})`,
      settings: (c) => `send({acks: ${c.acks}, compression: ${KAFKAJS_CODEC_KEY[c.codec]}}); idempotent false (default); linger.ms 0 (the facade's default, KafkaJS sends at once), batch.size = max.request.size, 1 MiB (the facade's default)`,
      async open(ctx) {
        const { Kafka, logLevel, CompressionTypes } = turbo();
        const kafka = new Kafka({ clientId: 'bench-peers', brokers: ctx.bootstrap.split(','), logLevel: logLevel.NOTHING });
        const producer = kafka.producer();
        await producer.connect();
        const topic = ctx.topic;
        const acks = ctx.case.acks;
        const compression = CompressionTypes[KAFKAJS_CODEC_KEY[ctx.case.codec]];
        return {
          batchCalls: true,
          makeCall: (values) => ({ n: values.length, messages: values.map((value) => ({ value })) }),
          call: (p) =>
            producer.send({ topic, acks, compression, messages: p.messages }).then((r) => {
              checkKafkajsResult(r, topic);
              return p.n;
            }),
          close: () => producer.disconnect(),
        };
      },
    },
    {
      ...base,
      id: 'kafka-turbo-java',
      label: `kafka-turbo ${version()} java-api (${b})`,
      settings: (c) => `acks=${c.acks === -1 ? 'all' : c.acks} compression.type=${c.codec} enable.idempotence=false; ${c.lingerMs !== undefined ? `linger.ms ${c.lingerMs}` : 'linger.ms 5 (default)'}, batch.size 16384 (default)`,
      async open(ctx) {
        const { Producer } = turbo();
        const topic = ctx.topic;
        const producer = new Producer({
          'bootstrap.servers': ctx.bootstrap,
          'client.id': 'bench-peers',
          acks: ctx.case.acks === -1 ? 'all' : String(ctx.case.acks),
          'compression.type': ctx.case.codec,
          'enable.idempotence': false,
          ...(ctx.case.lingerMs !== undefined ? { 'linger.ms': ctx.case.lingerMs } : {}),
        });
        await producer.connect([topic]);
        const ok = (md) => {
          if (md.topic !== topic || !(md.offset >= 0)) throw new Error(`bad record metadata ${JSON.stringify(md)}`);
          return 1;
        };
        return {
          batchCalls: false,
          makeCall: (values) => ({ topic, value: values[0] }),
          call: (record) => producer.send(record).then(ok),
          close: () => producer.close(),
        };
      },
    },
  ];
}
