// The Java producer's side of the peers bench (bench/peers/run.mjs compiles this with javac
// against the Kafka jars the test harness fetched, and starts one JVM per run). It speaks the
// same protocol as child.mjs on stdout: {"ev":"t0"} when the timed part starts, {"ev":"t1",...}
// when it ends, {"ev":"done","total":N} after close; the parent reads this JVM's CPU (every
// thread: the sender's, the GC's, the JIT's) and the brokers' from /proc at t0 and t1.
//
//   client MODE: a KafkaProducer<byte[], byte[]> with the shapes of child.mjs:
//     inflight: `limit` records in flight (a Semaphore), new sends as callbacks release permits,
//               until the deadline; then every permit back (all callbacks done).
//     latency:  send(record).get() one after another, each timed.
//   perf MODE: org.apache.kafka.tools.ProducerPerformance as it ships (its own load shape: as
//     many records in flight as buffer.memory holds), once untimed to warm up, once timed.
//
// Arguments (positional, all strings; run.mjs builds them):
//   client BOOTSTRAP TOPIC VALUES_FILE SIZE SHAPE LIMIT ACKS CODEC WARMUP_MS TIMED_MS LINGER_MS|default
//   perf   BOOTSTRAP TOPIC PAYLOAD_FILE SIZE ACKS CODEC WARMUP_RECORDS TIMED_RECORDS
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.Properties;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class PeerBench {
  private static void emit(String json) {
    System.out.println(json);
    System.out.flush();
  }

  private static String acksName(String acks) {
    return acks.equals("-1") ? "all" : acks;
  }

  public static void main(String[] a) throws Exception {
    if (a[0].equals("perf")) perf(a);
    else client(a);
  }

  private static void perf(String[] a) throws Exception {
    String bootstrap = a[1], topic = a[2], payloadFile = a[3], size = a[4], acks = a[5], codec = a[6];
    long warm = Long.parseLong(a[7]), timed = Long.parseLong(a[8]);
    String[] common = {
      "--topic", topic, "--throughput", "-1", "--payload-file", payloadFile,
      "--producer-props", "bootstrap.servers=" + bootstrap, "acks=" + acksName(acks), "compression.type=" + codec,
      "enable.idempotence=false", "client.id=bench-peers",
    };
    runPerf(common, warm);
    emit("{\"ev\":\"t0\"}");
    long t0 = System.nanoTime();
    runPerf(common, timed);
    double seconds = (System.nanoTime() - t0) / 1e9;
    emit("{\"ev\":\"t1\",\"acked\":" + timed + ",\"seconds\":" + seconds + "}");
    emit("{\"ev\":\"done\",\"total\":" + (warm + timed) + "}");
  }

  private static void runPerf(String[] common, long records) throws Exception {
    String[] args = new String[common.length + 2];
    args[0] = "--num-records";
    args[1] = Long.toString(records);
    System.arraycopy(common, 0, args, 2, common.length);
    org.apache.kafka.tools.ProducerPerformance.main(args);
  }

  private static void client(String[] a) throws Exception {
    String bootstrap = a[1], topic = a[2];
    byte[] block = Files.readAllBytes(Paths.get(a[3]));
    int size = Integer.parseInt(a[4]);
    String shape = a[5];
    int limit = Integer.parseInt(a[6]);
    String acks = a[7], codec = a[8];
    long warmupMs = Long.parseLong(a[9]), timedMs = Long.parseLong(a[10]);
    byte[][] values = new byte[block.length / size][];
    for (int i = 0; i < values.length; i++) values[i] = Arrays.copyOfRange(block, i * size, (i + 1) * size);

    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.CLIENT_ID_CONFIG, "bench-peers");
    p.put(ProducerConfig.ACKS_CONFIG, acksName(acks));
    p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "false");
    if (!a[11].equals("default")) p.put(ProducerConfig.LINGER_MS_CONFIG, a[11]);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    long total = 0;
    int[] cursor = {0};
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
      producer.partitionsFor(topic); // metadata before the clock, as the Node clients' connect
      total += run(producer, topic, values, cursor, shape, limit, warmupMs, false);
      emit("{\"ev\":\"t0\"}");
      long t0 = System.nanoTime();
      long acked = run(producer, topic, values, cursor, shape, limit, timedMs, true);
      double seconds = (System.nanoTime() - t0) / 1e9;
      StringBuilder t1 = new StringBuilder("{\"ev\":\"t1\",\"acked\":" + acked + ",\"seconds\":" + seconds + ",\"perCall\":1,\"inFlight\":" + limit);
      if (latencySamples != null) {
        long[] s = Arrays.copyOf(latencySamples, latencyCount);
        Arrays.sort(s);
        t1.append(",\"latency\":{\"n\":").append(s.length)
          .append(",\"p50\":").append(q(s, 0.5) / 1000.0)
          .append(",\"p99\":").append(q(s, 0.99) / 1000.0)
          .append(",\"p999\":").append(q(s, 0.999) / 1000.0)
          .append(",\"max\":").append(s[s.length - 1] / 1000.0).append('}');
      }
      emit(t1.append('}').toString());
      total += acked;
    }
    emit("{\"ev\":\"done\",\"total\":" + total + "}");
  }

  /** Nearest rank, as bench/lib/stats.ts quantileSorted. */
  private static long q(long[] sorted, double q) {
    int rank = (int) Math.ceil(q * sorted.length);
    return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
  }

  /** The timed latency run's samples (ns), kept by run(..., keep = true). */
  private static long[] latencySamples;
  private static int latencyCount;

  private static long run(KafkaProducer<byte[], byte[]> producer, String topic, byte[][] values, int[] cursor, String shape, int limit, long ms, boolean keep)
      throws Exception {
    long deadline = System.nanoTime() + ms * 1_000_000L;
    if (shape.equals("latency")) {
      long acked = 0;
      long[] samples = keep ? new long[1 << 16] : null;
      int n = 0;
      while (System.nanoTime() < deadline) {
        byte[] v = values[cursor[0]++ % values.length];
        long t = System.nanoTime();
        RecordMetadata md = producer.send(new ProducerRecord<>(topic, v)).get();
        long d = System.nanoTime() - t;
        if (md.offset() < 0 || !md.topic().equals(topic)) throw new IllegalStateException("bad metadata " + md);
        acked++;
        if (samples != null) {
          if (n == samples.length) samples = Arrays.copyOf(samples, n * 2);
          samples[n++] = d;
        }
      }
      if (samples != null) {
        latencySamples = samples;
        latencyCount = n;
      }
      return acked;
    }
    Semaphore permits = new Semaphore(limit);
    AtomicLong acked = new AtomicLong();
    AtomicReference<Exception> failure = new AtomicReference<>();
    while (System.nanoTime() < deadline && failure.get() == null) {
      permits.acquire();
      byte[] v = values[cursor[0]++ % values.length];
      producer.send(new ProducerRecord<>(topic, v), (md, e) -> {
        if (e != null) failure.compareAndSet(null, e);
        else if (md.offset() < 0) failure.compareAndSet(null, new IllegalStateException("no offset for " + md));
        else acked.incrementAndGet();
        permits.release();
      });
    }
    permits.acquire(limit); // every callback has run
    permits.release(limit);
    if (failure.get() != null) throw failure.get();
    return acked.get();
  }
}
