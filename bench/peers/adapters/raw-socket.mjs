// The floor of the latency case: no client, a plain socket writing one pre-encoded
// ProduceRequest v3 (one 100-byte record, the case's acks) to partition 0 of the topic on the
// first bootstrap broker (its leader on the 1-broker cluster), each write awaited before the
// next. See bench/lib/raw-produce.ts.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export function variants() {
  return [
    {
      id: 'raw-socket',
      label: 'raw socket (floor)',
      reference: true,
      supports: (c) => (c.id === 'latency' ? null : 'the floor row belongs to the latency case'),
      settings: (c) => `ProduceRequest v3 pre-encoded once, acks ${c.acks}, partition 0, node:net with noDelay`,
      async open(ctx) {
        const { RawProducer } = require('../../../out/bench/lib/raw-produce.js');
        const [host, port] = ctx.bootstrap.split(',')[0].split(':');
        // The same bytes every time: the value is the first of the case's values.
        let raw = null;
        return {
          batchCalls: false,
          makeCall: (values) => values[0],
          async call(value) {
            raw ??= await RawProducer.connect(host, Number(port), { topic: ctx.topic, partition: 0, value, acks: ctx.case.acks });
            const offset = await raw.send();
            if (!(offset >= 0n)) throw new Error(`raw produce: base offset ${offset}`);
            return 1;
          },
          close: () => (raw ? raw.close() : Promise.resolve()),
        };
      },
    },
  ];
}
