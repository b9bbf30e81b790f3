/** The kinds of fleet `vigil simulate --mix` knows, as profile proportions. */
export const mixes = {
  hospital: { "patient-monitor": 0.3, "infusion-pump": 0.4, "environmental-sensor": 0.15, "ip-camera": 0.15 },
  factory: { plc: 0.45, "environmental-sensor": 0.2, "ip-camera": 0.15, "smart-meter": 0.2 },
  city: { "environmental-sensor": 0.4, "ip-camera": 0.25, "smart-meter": 0.25, "vehicle-telematics": 0.1 },
  vehicles: { "vehicle-telematics": 0.8, "ip-camera": 0.1, "environmental-sensor": 0.1 },
  /** Every shipped profile: what `vigil demo` runs. */
  mixed: {
    "patient-monitor": 0.1,
    "infusion-pump": 0.15,
    "environmental-sensor": 0.2,
    "ip-camera": 0.1,
    plc: 0.15,
    "smart-meter": 0.15,
    "vehicle-telematics": 0.15,
  },
} as const satisfies Record<string, Record<string, number>>;

export type MixName = keyof typeof mixes;

export function isMixName(name: string): name is MixName {
  return Object.hasOwn(mixes, name);
}

/**
 * Splits `n` devices over a mix by largest remainder, so the counts add up to `n` exactly and
 * every profile with a share gets a device once `n` is at least the number of profiles.
 */
export function allocate(n: number, mix: MixName): [profile: string, count: number][] {
  const shares = Object.entries(mixes[mix] as Record<string, number>);
  const total = shares.reduce((s, [, w]) => s + w, 0);
  const raw = shares.map(([p, w]) => ({ p, exact: (n * w) / total }));
  const out = raw.map(({ p, exact }) => ({ p, count: Math.floor(exact), rest: exact - Math.floor(exact) }));
  let left = n - out.reduce((s, o) => s + o.count, 0);
  for (const o of [...out].sort((a, b) => b.rest - a.rest)) {
    if (left <= 0) break;
    o.count++;
    left--;
  }
  return out.filter((o) => o.count > 0).map((o) => [o.p, o.count]);
}
