// The main job (`npm run demo`): start a local Apache Kafka broker (jars fetched by Maven into
// .cache/ on first use), create a 6-partition topic, run the CLI's perf test against it and
// print its report, then stop the broker.
//   node scripts/demo.mjs [--records N] [--record-size B] [--acks all|1|0] [--bootstrap host:port]
// With --bootstrap it uses that cluster instead of starting one.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const harness = require(join(root, 'test', 'helpers', 'kafka', 'cluster.cjs'));

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : dflt;
};

const cli = join(root, 'dist', 'cjs', 'cli', 'main.js');
if (!existsSync(cli)) {
  console.error('kafka-turbo is not built yet: run `bash scripts/install.sh` (or `npm run build`) first');
  process.exit(2);
}

const given = opt('bootstrap', '');
console.log(given ? `using the cluster at ${given}` : 'starting a local Apache Kafka broker (KRaft)...');
const cluster = given ? await harness.connectCluster(given) : await harness.startCluster({ brokers: 1 });
let code = 1;
try {
  const topic = `demo-${Date.now().toString(36)}`;
  await cluster.createTopic(topic, { partitions: 6 });
  console.log(`broker at ${cluster.bootstrap}, topic ${topic} (6 partitions)\n`);
  const r = spawnSync(
    process.execPath,
    [
      cli, 'perf',
      '--bootstrap', cluster.bootstrap,
      '--topic', topic,
      '--records', opt('records', '1000000'),
      '--record-size', opt('record-size', '100'),
      '--acks', opt('acks', 'all'),
    ],
    { stdio: 'inherit' },
  );
  code = r.status ?? 1;
} finally {
  if (!given) await cluster.stop();
}
process.exit(code);
