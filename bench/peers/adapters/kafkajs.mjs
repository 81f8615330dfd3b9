// KafkaJS: the client kafka-turbo's facade copies. Every send() is its own request; linger does
// not exist. Codecs: gzip built in, lz4 through kafkajs-lz4 (the plugin its docs name); zstd's
// plugin (@kafkajs/zstd) needs a native module that does not build on Node 20, so no zstd row.
import { createRequire } from 'node:module';
import { checkKafkajsResult, KAFKAJS_CODEC_KEY, pkgVersion } from './common.mjs';

const require = createRequire(import.meta.url);

function registerCodec(codec) {
  const { CompressionCodecs, CompressionTypes } = require('kafkajs');
  if (codec === 'lz4') {
    const LZ4Codec = require('kafkajs-lz4');
    CompressionCodecs[CompressionTypes.LZ4] = new LZ4Codec().codec;
  } else if (codec === 'zstd') {
    CompressionCodecs[CompressionTypes.ZSTD] = require('@kafkajs/zstd')();
  }
}

export function variants() {
  const v = pkgVersion('kafkajs');
  return [
    {
      id: 'kafkajs',
      label: `kafkajs ${v}`,
      supports(c) {
        if (!v) return 'kafkajs is not installed in bench/peers (npm run setup there)';
        try {
          registerCodec(c.codec);
        } catch (e) {
          return `KafkaJS has no ${c.codec} codec here (${c.codec === 'zstd' ? '@kafkajs/zstd' : 'kafkajs-lz4'}: ${String(e.message).split('\n')[0]})`;
        }
        return null;
      },
      settings: (c) => `send({acks: ${c.acks}, compression: ${KAFKAJS_CODEC_KEY[c.codec]}}); idempotent false (default); no linger (every send is a request)`,
      async open(ctx) {
        const { Kafka, logLevel, CompressionTypes } = require('kafkajs');
        registerCodec(ctx.case.codec);
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
  ];
}
