/**
 * The Sensor's windows and stats against hand-computed values (Java's SampledStat, Avg, Max,
 * Rate semantics), with explicit times: no clock, no sleeps.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Sensor } from '../../../ts/metrics/sensor.js';

const cfg = { samples: 2, windowMs: 1000 };

describe('Sensor', () => {
  it('avg and max are NaN with no values, as in Java; totals start at 0', () => {
    const s = new Sensor(cfg, 0);
    assert.ok(Number.isNaN(s.avg(10)));
    assert.ok(Number.isNaN(s.max(10)));
    assert.equal(s.rate(10), 0);
    assert.equal(s.totalSum, 0);
    assert.equal(s.totalCount, 0);
  });

  it('avg, max, sum and count over the values recorded', () => {
    const s = new Sensor(cfg, 0);
    for (const v of [10, 30, 20]) s.record(v, 100);
    assert.equal(s.avg(200), 20);
    assert.equal(s.max(200), 30);
    assert.equal(s.totalSum, 60);
    assert.equal(s.totalCount, 3);
  });

  it('a rate spans at least (samples - 1) windows, then the time the samples cover', () => {
    const s = new Sensor(cfg, 0);
    s.record(500, 100);
    // 100 ms elapsed, fewer than 1 full window: the window counts as 1100 ms.
    assert.equal(s.rate(100), 500 / 1.1);
    assert.equal(s.countRate(100), 1 / 1.1);
    s.record(500, 1500); // second sample
    // Oldest sample started at 0, now 1800: 1.8 s, one full window already.
    assert.equal(s.rate(1800), 1000 / 1.8);
  });

  it('old samples are forgotten: values from more than samples x window ago leave avg, max and rate', () => {
    const s = new Sensor(cfg, 0);
    s.record(1000, 0);
    s.record(1, 1200);
    assert.equal(s.max(1300), 1000);
    // At 2000 the first sample (started at 0) is 2 windows old: purged.
    assert.equal(s.max(2000), 1);
    assert.equal(s.avg(2000), 1);
    // The totals never forget.
    assert.equal(s.totalSum, 1001);
    // Long after: everything purged.
    assert.ok(Number.isNaN(s.avg(10_000)));
    assert.equal(s.rate(10_000), 0);
  });

  it('the current sample rolls over after a window and reuses the oldest slot', () => {
    const s = new Sensor(cfg, 0);
    s.record(5, 0);
    s.record(7, 1000); // new sample
    s.record(9, 2000); // reuses the first slot: 5 is gone
    assert.equal(s.avg(2000), 8);
    assert.equal(s.max(2000), 9);
  });

  it('parents receive every value a child records (a topic feeding the producer-wide sensor)', () => {
    const parent = new Sensor(cfg, 0);
    const a = new Sensor(cfg, 0, [parent]);
    const b = new Sensor(cfg, 0, [parent]);
    a.record(3, 10);
    b.record(4, 10);
    assert.equal(parent.totalSum, 7);
    assert.equal(parent.totalCount, 2);
    assert.equal(a.totalSum, 3);
  });

  it('one sample and no time passed: a finite rate (1 ms floor)', () => {
    const s = new Sensor({ samples: 1, windowMs: 1000 }, 0);
    s.record(2, 0);
    assert.equal(s.rate(0), 2000);
  });
});
