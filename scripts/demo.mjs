// The main job (`npm run demo`): a performance run of the CLI producer (`kafka-turbo perf`,
// 1M records of 100 bytes, no throttle, acks=all) against a local Apache Kafka broker that the
// CLI itself starts (Java 17 + the Kafka jars, fetched by Maven on first use) and stops at the
// end, Ctrl-C included; then its report.
//   node scripts/demo.mjs [--records N] [--record-size B] [--acks all|1|0] [--bootstrap host:port]
// With --bootstrap it uses that cluster instead (and creates the 6-partition topic there, since
// a cluster may refuse to auto-create topics).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
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

const topic = `demo-${Date.now().toString(36)}`;
const given = opt('bootstrap', '');
if (given) {
  const harness = createRequire(import.meta.url)(join(root, 'test', 'helpers', 'kafka', 'cluster.cjs'));
  const cluster = await harness.connectCluster(given);
  await cluster.createTopic(topic, { partitions: 6 });
  console.log(`using the cluster at ${given}, topic ${topic} (6 partitions)\n`);
}
const child = spawn(
  process.execPath,
  [
    cli, 'perf',
    '--topic', topic,
    '--num-records', opt('records', '1000000'),
    '--record-size', opt('record-size', '100'),
    '--throughput', '-1',
    '--producer-props', `acks=${opt('acks', 'all')}`,
    ...(given ? ['--bootstrap-server', given] : ['--partitions', '6']),
  ],
  { stdio: 'inherit' },
);
// Ctrl-C reaches the CLI too (same terminal): it stops its broker; wait for it to finish.
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
