/**
 * The measuring half of the metrics: a Sensor, after the Java client's
 * org.apache.kafka.common.metrics.Sensor with its Avg, Max, Rate, WindowedCount and
 * CumulativeSum stats folded into one object.
 *
 * Why one object and not a stat per metric: every metric of a sensor reads the same samples
 * (the average of batch sizes and their maximum are two views of one stream), so recording a
 * value is a handful of additions into the current sample, whatever the number of metrics
 * read from it. The producer records once per batch or per response, never per record, so
 * that metrics cost nothing measurable (bench/RESULTS.md).
 *
 * Windows as in Java (metrics.num.samples = 2, metrics.sample.window.ms = 30000 by default):
 * values land in the current sample until it is `windowMs` old, then the oldest sample is
 * reused; samples older than `samples × windowMs` are forgotten when measured. A rate is the
 * samples' sum over the time they span, never less than (samples − 1) windows, so a burst
 * right after start does not read as an enormous rate (Java's Rate.windowSize).
 */

export interface SampleConfig {
  /** metrics.num.samples */
  samples: number;
  /** metrics.sample.window.ms */
  windowMs: number;
}

export class Sensor {
  private readonly starts: Float64Array;
  private readonly sums: Float64Array;
  private readonly counts: Float64Array;
  private readonly maxs: Float64Array;
  private current = 0;
  /** Sum of every value ever recorded (Java's CumulativeSum). */
  totalSum = 0;
  /** Number of values ever recorded (Java's CumulativeCount). */
  totalCount = 0;

  constructor(
    private readonly config: SampleConfig,
    nowMs: number,
    /** Sensors this one also records into (Java's parent sensors: a topic's into the producer's). */
    private readonly parents: readonly Sensor[] = [],
  ) {
    const n = config.samples;
    this.starts = new Float64Array(n).fill(nowMs);
    this.sums = new Float64Array(n);
    this.counts = new Float64Array(n);
    this.maxs = new Float64Array(n).fill(-Infinity);
  }

  record(value: number, nowMs: number): void {
    this.totalSum += value;
    this.totalCount++;
    let i = this.current;
    if (nowMs - this.starts[i]! >= this.config.windowMs) {
      i = this.current = (i + 1) % this.starts.length;
      this.starts[i] = nowMs;
      this.sums[i] = 0;
      this.counts[i] = 0;
      this.maxs[i] = -Infinity;
    }
    this.sums[i]! += value;
    this.counts[i]!++;
    if (value > this.maxs[i]!) this.maxs[i] = value;
    for (let p = 0; p < this.parents.length; p++) this.parents[p]!.record(value, nowMs);
  }

  /** Forget samples that ended more than samples × windowMs ago (Java's purgeObsoleteSamples). */
  private purge(nowMs: number): void {
    const maxAge = this.config.samples * this.config.windowMs;
    for (let i = 0; i < this.starts.length; i++) {
      if (nowMs - this.starts[i]! >= maxAge) {
        this.starts[i] = nowMs;
        this.sums[i] = 0;
        this.counts[i] = 0;
        this.maxs[i] = -Infinity;
      }
    }
  }

  /** Mean of the values in the window; NaN when there were none (as Java's Avg). */
  avg(nowMs: number): number {
    this.purge(nowMs);
    let sum = 0;
    let count = 0;
    for (let i = 0; i < this.sums.length; i++) {
      sum += this.sums[i]!;
      count += this.counts[i]!;
    }
    return count === 0 ? NaN : sum / count;
  }

  /** Largest value in the window; NaN when there were none (as Java's Max). */
  max(nowMs: number): number {
    this.purge(nowMs);
    let max = -Infinity;
    let count = 0;
    for (let i = 0; i < this.maxs.length; i++) {
      count += this.counts[i]!;
      if (this.maxs[i]! > max) max = this.maxs[i]!;
    }
    return count === 0 ? NaN : max;
  }

  /** Sum of the values in the window per second (Java's Rate). */
  rate(nowMs: number): number {
    this.purge(nowMs);
    let sum = 0;
    for (let i = 0; i < this.sums.length; i++) sum += this.sums[i]!;
    return sum / this.windowSeconds(nowMs);
  }

  /** Values recorded per second (Java's Rate over a WindowedCount). */
  countRate(nowMs: number): number {
    this.purge(nowMs);
    let count = 0;
    for (let i = 0; i < this.counts.length; i++) count += this.counts[i]!;
    return count / this.windowSeconds(nowMs);
  }

  /** Java's Rate.windowSize: the time the samples span, at least (samples − 1) windows. */
  private windowSeconds(nowMs: number): number {
    let oldest = Infinity;
    for (let i = 0; i < this.starts.length; i++) if (this.starts[i]! < oldest) oldest = this.starts[i]!;
    let elapsed = nowMs - oldest;
    const w = this.config.windowMs;
    const minFull = this.config.samples - 1;
    const full = Math.floor(elapsed / w);
    if (full < minFull) elapsed += (minFull - full) * w;
    // One sample and no time passed: a 1 ms floor rather than a division by zero.
    return Math.max(elapsed, 1) / 1000;
  }
}
