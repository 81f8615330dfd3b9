/**
 * Prometheus text exposition (format 0.0.4) of `producer.metrics()`, for services that scrape
 * their own /metrics endpoint: `res.end(toPrometheusText(producer.metrics()))`.
 *
 * Names follow what the JMX exporter's common Kafka rules make of the Java client's metrics,
 * so a dashboard can move from a Java producer to this one with few changes:
 *   producer-metrics        record-send-rate → kafka_producer_record_send_rate
 *   producer-topic-metrics  byte-rate        → kafka_producer_topic_byte_rate{topic="…"}
 *   producer-node-metrics   request-latency-avg → kafka_producer_node_request_latency_avg{node_id="…"}
 * Tags become labels ('-' → '_'). Metrics whose name ends in -total are counters (they only
 * grow); every other one is a gauge. NaN (an average over no values) is written as NaN,
 * which the format allows.
 */
import { NODE_GROUP, PRODUCER_GROUP, TOPIC_GROUP, type Metric } from './producer-metrics.js';

const PREFIX: Record<string, string> = {
  [PRODUCER_GROUP]: 'kafka_producer_',
  [TOPIC_GROUP]: 'kafka_producer_topic_',
  [NODE_GROUP]: 'kafka_producer_node_',
};

/** Any character a Prometheus metric or label name may not hold becomes '_'. */
function sanitize(s: string): string {
  const out = s.replace(/[^a-zA-Z0-9_:]/g, '_');
  return /^[0-9]/.test(out) ? `_${out}` : out;
}

function familyName(m: Metric): string {
  const prefix = PREFIX[m.group] ?? `kafka_${sanitize(m.group)}_`;
  return prefix + sanitize(m.name);
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** Renders metrics as Prometheus text: one HELP and TYPE per family, then its samples. */
export function toPrometheusText(metrics: readonly Metric[]): string {
  const families = new Map<string, { help: string; type: 'counter' | 'gauge'; lines: string[] }>();
  for (const m of metrics) {
    const name = familyName(m);
    let f = families.get(name);
    if (!f) {
      f = { help: m.description, type: m.name.endsWith('-total') ? 'counter' : 'gauge', lines: [] };
      families.set(name, f);
    }
    const labels = Object.keys(m.tags)
      .map((k) => `${sanitize(k)}="${escapeLabel(m.tags[k]!)}"`)
      .join(',');
    f.lines.push(`${name}${labels ? `{${labels}}` : ''} ${formatValue(m.value)}`);
  }
  let out = '';
  for (const [name, f] of families) {
    out += `# HELP ${name} ${escapeHelp(f.help)}\n# TYPE ${name} ${f.type}\n${f.lines.join('\n')}\n`;
  }
  return out;
}
