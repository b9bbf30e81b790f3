/**
 * A small seeded pseudo-random source (mulberry32) so that a fleet, its telemetry and its
 * attack timeline are reproducible from one seed (STYLE habit 6: randomness is injected).
 * Not for cryptography: keys and tokens come from the SDK and the server.
 */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Normal with the given mean and standard deviation (Box-Muller). */
  normal(mean?: number, sd?: number): number;
  /** Integer in [min, max] inclusive. */
  int(min: number, max: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** `n` pseudo-random bytes. */
  bytes(n: number): Buffer;
}

export function createRandom(seed: number = Date.now()): Random {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    normal(mean = 0, sd = 1) {
      const u = Math.max(next(), 1e-12);
      const v = next();
      return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
    int(min, max) {
      return min + Math.floor(next() * (max - min + 1));
    },
    chance(p) {
      return next() < p;
    },
    pick<T>(items: readonly T[]): T {
      if (items.length === 0) throw new Error("pick from an empty list");
      return items[Math.floor(next() * items.length)] as T;
    },
    bytes(n) {
      const out = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i += 4) {
        const word = (next() * 4294967296) >>> 0;
        for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = (word >>> (8 * j)) & 0xff;
      }
      return out;
    },
  };
}
