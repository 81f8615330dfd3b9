// @platformatic/kafka: a pure-TypeScript client. Its 1.x line is the one that runs on Node 20
// (2.x asks for Node 22). Every send() is its own request; its codecs come from node:zlib and
// optional modules, and it reports which it has (compressionsAlgorithms[codec].available).
import { pkgVersion } from './common.mjs';

export function variants() {
  const v = pkgVersion('@platformatic/kafka');
  return [
    {
      id: 'platformatic',
      label: `@platformatic/kafka ${v}`,
      async supports(c) {
        if (!v) return '@platformatic/kafka is not installed in bench/peers (npm run setup there)';
        if (c.codec === 'none') return null;
        const { compressionsAlgorithms } = await import('@platformatic/kafka');
        return compressionsAlgorithms[c.codec]?.available ? null : `@platformatic/kafka reports no ${c.codec} on Node ${process.version}`;
      },
      settings: (c) => `acks ${c.acks}, compression ${c.codec}; idempotent false, maxInflights 5 (defaults); no linger (every send is a request)`,
      async open(ctx) {
        const { Producer } = await import('@platformatic/kafka');
        const topic = ctx.topic;
        const acks = ctx.case.acks;
        const compression = ctx.case.codec;
        const producer = new Producer({ clientId: 'bench-peers', bootstrapBrokers: ctx.bootstrap.split(','), acks, compression });
        return {
          batchCalls: true,
          makeCall: (values) => ({ n: values.length, messages: values.map((value) => ({ topic, value })) }),
          call: (p) =>
            producer.send({ messages: p.messages, acks, compression }).then((r) => {
              if (!r.offsets || r.offsets.length === 0) throw new Error('send returned no offsets');
              for (const o of r.offsets) if (o.topic !== topic || !(o.offset >= 0n)) throw new Error(`bad offset ${o.topic}/${o.partition}@${o.offset}`);
              return p.n;
            }),
          close: () => producer.close(),
        };
      },
    },
  ];
}
