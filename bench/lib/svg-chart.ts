/**
 * Hand-written SVG bar charts for bench results: one horizontal bar per row at its median,
 * with a whisker from the smallest to the largest round, and the median printed beside it.
 * Plain SVG 1.1 (no scripts, no external fonts or styles), so GitHub and any browser render the
 * file as it is committed. No charting dependency: a chart is a few rectangles and lines.
 */

export interface BarRow {
  label: string;
  median: number;
  min: number;
  max: number;
  /** Drawn in a muted colour: a reference row (e.g. the raw-socket floor), not a contender. */
  reference?: boolean;
  /** Drawn in the accent colour (the project's own rows). */
  highlight?: boolean;
}

export interface BarChart {
  title: string;
  /** The second line: what the bars measure, in which unit, and how many rounds. */
  subtitle: string;
  rows: BarRow[];
  /** How a value prints beside its bar. */
  format: (v: number) => string;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A "nice" axis end at or above v: 1, 2 or 5 times a power of ten. */
function niceCeil(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export function renderBarChart(chart: BarChart): string {
  const labelWidth = Math.max(160, 7 * Math.max(...chart.rows.map((r) => r.label.length), 10));
  const plotWidth = 520;
  const valueWidth = 110;
  const rowHeight = 26;
  const top = 58;
  const width = labelWidth + plotWidth + valueWidth + 20;
  const height = top + chart.rows.length * rowHeight + 40;
  const axisMax = niceCeil(Math.max(...chart.rows.map((r) => Math.max(r.max, r.median)), 0));
  const x = (v: number) => labelWidth + (Math.max(0, v) / axisMax) * plotWidth;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">${escapeXml(chart.title)}</text>`,
    `<text x="10" y="38" fill="#555555">${escapeXml(chart.subtitle)}</text>`,
  );
  // Grid: five steps of the axis.
  const gridBottom = top + chart.rows.length * rowHeight;
  for (let i = 0; i <= 5; i++) {
    const v = (axisMax * i) / 5;
    const gx = x(v);
    out.push(
      `<line x1="${gx.toFixed(1)}" y1="${top - 4}" x2="${gx.toFixed(1)}" y2="${gridBottom}" stroke="#e3e3e3"/>`,
      `<text x="${gx.toFixed(1)}" y="${gridBottom + 16}" text-anchor="middle" fill="#555555" font-size="11">${escapeXml(chart.format(v))}</text>`,
    );
  }
  chart.rows.forEach((r, i) => {
    const y = top + i * rowHeight;
    const fill = r.reference ? '#b0b0b0' : r.highlight ? '#d9480f' : '#4a78b5';
    const barEnd = x(r.median);
    out.push(
      `<text x="${labelWidth - 8}" y="${y + 16}" text-anchor="end">${escapeXml(r.label)}</text>`,
      `<rect x="${labelWidth}" y="${y + 5}" width="${Math.max(1, barEnd - labelWidth).toFixed(1)}" height="${rowHeight - 10}" fill="${fill}"/>`,
    );
    if (r.max > r.min) {
      const cy = y + rowHeight / 2;
      const x0 = x(r.min).toFixed(1);
      const x1 = x(r.max).toFixed(1);
      out.push(
        `<line x1="${x0}" y1="${cy}" x2="${x1}" y2="${cy}" stroke="#222222" stroke-width="1.5"/>`,
        `<line x1="${x0}" y1="${cy - 6}" x2="${x0}" y2="${cy + 6}" stroke="#222222" stroke-width="1.5"/>`,
        `<line x1="${x1}" y1="${cy - 6}" x2="${x1}" y2="${cy + 6}" stroke="#222222" stroke-width="1.5"/>`,
      );
    }
    out.push(`<text x="${(Math.max(barEnd, x(r.max)) + 6).toFixed(1)}" y="${y + 16}">${escapeXml(chart.format(r.median))}</text>`);
  });
  out.push(
    `<text x="10" y="${height - 8}" fill="#777777" font-size="10">bar: median of the rounds · whisker: smallest to largest round</text>`,
    '</svg>',
    '',
  );
  return out.join('\n');
}
