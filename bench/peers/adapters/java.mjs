// The Java producer, from the Kafka jars the test harness fetches (.cache/kafka/VERSION/lib):
// bench/peers/java/PeerBench.java, compiled with the JDK's javac once per bench run, drives a
// KafkaProducer with the same shapes as the Node clients (child.mjs), awaited sends included;
// and org.apache.kafka.tools.ProducerPerformance, the tool Kafka ships, runs unchanged in the
// cases whose shape is "as many records in flight as the producer takes" (the batched ones):
// it cannot cap calls in flight or await single sends. One JVM per run, started directly, so
// the parent's /proc reads are the JVM's own CPU.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SOURCE = join(ROOT, 'bench', 'peers', 'java', 'PeerBench.java');
const CLASSES = join(ROOT, '.cache', 'bench-peers', 'java');

function harness() {
  return require(join(ROOT, 'test', 'helpers', 'kafka', 'cluster.cjs'));
}

function libDir() {
  return join(harness().kafkaCacheDir(), 'lib');
}

function kafkaVersion() {
  return harness().kafkaVersion();
}

/** javac PeerBench.java into .cache/bench-peers/java, unless the class is newer than the source. */
function compile() {
  const cls = join(CLASSES, 'PeerBench.class');
  if (existsSync(cls) && statSync(cls).mtimeMs > statSync(SOURCE).mtimeMs) return;
  mkdirSync(CLASSES, { recursive: true });
  execFileSync('javac', ['-cp', join(libDir(), '*'), '-d', CLASSES, SOURCE], { stdio: ['ignore', 'inherit', 'inherit'] });
}

function classpath() {
  return [CLASSES, join(libDir(), '*')].join(':');
}

// The JVM's defaults otherwise (G1 on this machine, heap by ergonomics): what `java -cp ...`
// gives an app. The Kafka jar set logs through log4j2 with no configuration here; errors still
// reach stderr.
const JVM = ['-Djava.awt.headless=true'];

/** ProducerPerformance is told a record count, not a duration: this many per timed second. */
function perfRate(c) {
  if (c.brokers === 3) return 150_000;
  return c.size >= 1024 ? 80_000 : 300_000;
}

export function variants() {
  const unavailable = () => {
    try {
      if (!existsSync(join(libDir(), `kafka-clients-${kafkaVersion()}.jar`))) return `no Kafka jars in ${libDir()} (the test harness fetches them)`;
    } catch (e) {
      return `the Kafka jars are not found (${e.message})`;
    }
    try {
      execFileSync('javac', ['-version'], { stdio: 'ignore' });
    } catch {
      return 'no javac on PATH (a JDK is needed to compile bench/peers/java/PeerBench.java)';
    }
    return null;
  };
  const v = kafkaVersion();
  const acksName = (c) => (c.acks === -1 ? 'all' : String(c.acks));
  return [
    {
      id: 'java',
      label: `Java KafkaProducer ${v}`,
      supports: unavailable,
      prepare: compile,
      settings: (c) =>
        `acks=${acksName(c)} compression.type=${c.codec} enable.idempotence=false; ${c.lingerMs !== undefined ? `linger.ms ${c.lingerMs}` : 'linger.ms 5 (default)'}, batch.size 16384 (default); send(record, callback), a Semaphore caps records in flight`,
      command(ctx) {
        const c = ctx.case;
        return {
          cmd: 'java',
          args: [...JVM, '-cp', classpath(), 'PeerBench', 'client', ctx.bootstrap, ctx.topic, ctx.valuesFile, String(c.size), c.shape,
            String(c.shape === 'latency' ? 1 : c.inFlight * c.perCall), String(c.acks), c.codec, String(ctx.warmupMs), String(ctx.timedMs),
            c.lingerMs !== undefined ? String(c.lingerMs) : 'default'],
        };
      },
    },
    {
      id: 'java-perf',
      label: `Java ProducerPerformance ${v}`,
      supports: (c) => unavailable() ?? (c.shape === 'inflight' && c.perCall > 1 ? null : 'ProducerPerformance has one shape: as many in flight as buffer.memory holds (the batched cases)'),
      prepare: compile,
      settings: (c) =>
        `--throughput -1 --payload-file (the same values) --producer-props acks=${acksName(c)} compression.type=${c.codec} enable.idempotence=false; linger.ms 5, batch.size 16384 (defaults); a record count, not a duration: ${perfRate(c).toLocaleString('en-US')} per timed second`,
      command(ctx) {
        const c = ctx.case;
        const rate = perfRate(c);
        return {
          cmd: 'java',
          args: [...JVM, '-cp', classpath(), 'PeerBench', 'perf', ctx.bootstrap, ctx.topic, ctx.payloadFile, String(c.size), String(c.acks), c.codec,
            String(Math.max(1000, Math.round((rate * ctx.warmupMs) / 1000))), String(Math.max(1000, Math.round((rate * ctx.timedMs) / 1000)))],
        };
      },
    },
  ];
}
