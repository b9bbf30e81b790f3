/** One sample of the daemon's memory during a soak. */
export interface MemorySample {
  /** Seconds since the fleet was ready. */
  readonly t: number;
  readonly rssMiB: number;
  readonly heapUsedMiB: number | null;
  readonly connected: number | null;
}

/** A small self-contained SVG line chart of RSS and heap over time (or cases: `xLabel`), with the warm-up marked. */
export function memoryChartSvg(
  samples: readonly MemorySample[],
  title: string,
  warmupEndS: number,
  xLabel = "seconds since the fleet was connected",
): string {
  const w = 720;
  const h = 300;
  const pad = { l: 56, r: 16, t: 32, b: 40 };
  const tMax = Math.max(1, ...samples.map((s) => s.t));
  const yMax = Math.max(1, ...samples.map((s) => Math.max(s.rssMiB, s.heapUsedMiB ?? 0))) * 1.1;
  const x = (t: number) => pad.l + (t / tMax) * (w - pad.l - pad.r);
  const y = (v: number) => h - pad.b - (v / yMax) * (h - pad.t - pad.b);
  const line = (pick: (s: MemorySample) => number | null, colour: string) =>
    `<polyline fill="none" stroke="${colour}" stroke-width="1.5" points="${samples
      .filter((s) => pick(s) !== null)
      .map((s) => `${x(s.t).toFixed(1)},${y(pick(s) as number).toFixed(1)}`)
      .join(" ")}"/>`;
  const ticks = Array.from({ length: 5 }, (_, i) => (yMax / 4) * i);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="11">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${pad.l}" y="18" font-size="13">${escape(title)}</text>`,
    ...ticks.map(
      (v) =>
        `<line x1="${pad.l}" x2="${w - pad.r}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${pad.l - 6}" y="${y(v) + 4}" text-anchor="end">${Math.round(v)}</text>`,
    ),
    `<rect x="${pad.l}" y="${pad.t}" width="${Math.max(0, x(warmupEndS) - pad.l)}" height="${h - pad.t - pad.b}" fill="#f3f3f3"/>`,
    `<text x="${pad.l + 4}" y="${pad.t + 12}" fill="#888">warm-up</text>`,
    line((s) => s.rssMiB, "#c0392b"),
    line((s) => s.heapUsedMiB, "#2471a3"),
    `<text x="${w / 2}" y="${h - 8}" text-anchor="middle">${escape(xLabel)}</text>`,
    `<text x="14" y="${h / 2}" transform="rotate(-90 14 ${h / 2})" text-anchor="middle">MiB</text>`,
    `<text x="${w - pad.r - 150}" y="${pad.t + 12}" fill="#c0392b">RSS</text><text x="${w - pad.r - 100}" y="${pad.t + 12}" fill="#2471a3">heap used</text>`,
    "</svg>",
    "",
  ].join("\n");
}

function escape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
}

/** Median of a list (NaN when empty). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length === 0
    ? Number.NaN
    : sorted.length % 2
      ? (sorted[mid] as number)
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
