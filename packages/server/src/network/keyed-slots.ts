/**
 * A bounded hash table for the detector's per-host, per-channel and per-socket state: keys
 * are a fixed number of uint32 words (no strings), values live in a caller-owned slab
 * indexed by slot number, and when the table is full the weakest of a few sampled entries
 * is evicted (the caller says what "weak" means: the detector uses the decayed weight of the
 * entry's slowest window, so idle and one-packet streams go first).
 *
 * Every operation is O(1) (open addressing with linear probing, backward-shift deletion,
 * eviction by sampling), whatever the churn: a brute force that opens a new client port per
 * attempt costs the same per packet as steady traffic. `generation(slot)` changes whenever a
 * slot is reused, so that state derived from a slot (a pair of streams) can tell that its
 * stream was evicted.
 */
export class KeyedSlots {
  readonly capacity: number;
  readonly keyWords: number;
  /** Write the key here, then call `find` or `findOrInsert`. */
  readonly key: Uint32Array;
  /** True when the last `findOrInsert` created the entry. */
  created = false;
  /** Number of entries evicted so far. */
  evictions = 0;
  /** A slot that must not be evicted by the next insertion (the other end of the same packet), or -1. */
  protect = -1;

  readonly #keys: Uint32Array;
  readonly #hashes: Uint32Array;
  readonly #gens: Uint32Array;
  /** Position of each slot in `#index`, for deletion. */
  readonly #index: Int32Array;
  readonly #mask: number;
  #size = 0;
  #seed = 0x9e3779b9;
  readonly #weakness: (slot: number) => number;
  readonly #onEvict: ((slot: number) => void) | undefined;
  readonly #samples: number;

  /**
   * @param weight higher = keep; the entry with the lowest weight among `samples` random
   *   entries is evicted when the table is full.
   */
  constructor(
    capacity: number,
    keyWords: number,
    weight: (slot: number) => number,
    options: { samples?: number; onEvict?: (slot: number) => void } = {},
  ) {
    this.capacity = capacity;
    this.keyWords = keyWords;
    this.key = new Uint32Array(keyWords);
    this.#keys = new Uint32Array(capacity * keyWords);
    this.#hashes = new Uint32Array(capacity);
    this.#gens = new Uint32Array(capacity);
    let size = 1;
    while (size < capacity * 2) size <<= 1;
    this.#index = new Int32Array(size);
    this.#mask = size - 1;
    this.#weakness = weight;
    this.#onEvict = options.onEvict;
    this.#samples = options.samples ?? 8;
  }

  get size(): number {
    return this.#size;
  }

  generation(slot: number): number {
    return this.#gens[slot]!;
  }

  #hash(): number {
    // Murmur3-style mixing of the key words.
    let h = 0x2545f491;
    const k = this.key;
    for (let i = 0; i < this.keyWords; i++) {
      let w = Math.imul(k[i]!, 0xcc9e2d51);
      w = (w << 15) | (w >>> 17);
      h ^= Math.imul(w, 0x1b873593);
      h = (h << 13) | (h >>> 19);
      h = (Math.imul(h, 5) + 0xe6546b64) | 0;
    }
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return h >>> 0;
  }

  #matches(slot: number): boolean {
    const base = slot * this.keyWords;
    const k = this.key;
    for (let i = 0; i < this.keyWords; i++) if (this.#keys[base + i] !== k[i]) return false;
    return true;
  }

  /** Slot of `key`, or -1. */
  find(): number {
    const h = this.#hash();
    for (let i = h & this.#mask; ; i = (i + 1) & this.#mask) {
      const v = this.#index[i]!;
      if (v === 0) return -1;
      const slot = v - 1;
      if (this.#hashes[slot] === h && this.#matches(slot)) return slot;
    }
  }

  /** Slot of `key`, inserted (possibly evicting another entry) when absent; sets `created`. */
  findOrInsert(): number {
    const h = this.#hash();
    let i = h & this.#mask;
    for (; ; i = (i + 1) & this.#mask) {
      const v = this.#index[i]!;
      if (v === 0) break;
      const slot = v - 1;
      if (this.#hashes[slot] === h && this.#matches(slot)) {
        this.created = false;
        return slot;
      }
    }
    let slot: number;
    if (this.#size < this.capacity) {
      slot = this.#size++;
    } else {
      slot = this.#victim();
      this.#remove(slot);
      this.#gens[slot] = (this.#gens[slot]! + 1) >>> 0;
      this.evictions++;
      this.#onEvict?.(slot);
      // The removal may have shifted entries: find the insertion point again.
      i = h & this.#mask;
      while (this.#index[i] !== 0) i = (i + 1) & this.#mask;
    }
    this.#keys.set(this.key, slot * this.keyWords);
    this.#hashes[slot] = h;
    this.#index[i] = slot + 1;
    this.created = true;
    return slot;
  }

  #victim(): number {
    let best = this.protect === 0 ? 1 : 0;
    let bestWeight = Infinity;
    for (let s = 0; s < this.#samples; s++) {
      // xorshift32
      let x = this.#seed;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.#seed = x >>> 0;
      const slot = this.#seed % this.capacity;
      if (slot === this.protect) continue;
      const w = this.#weakness(slot);
      if (w < bestWeight) {
        bestWeight = w;
        best = slot;
      }
    }
    return best;
  }

  /** Backward-shift deletion of `slot` from the index (Knuth 6.4, algorithm R). */
  #remove(slot: number): void {
    const mask = this.#mask;
    let i = this.#hashes[slot]! & mask;
    while (this.#index[i] !== slot + 1) i = (i + 1) & mask;
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const v = this.#index[j]!;
      if (v === 0) break;
      const k = this.#hashes[v - 1]! & mask;
      // Move entry j into the hole at i unless its home k lies cyclically in (i, j].
      const between = i <= j ? i < k && k <= j : i < k || k <= j;
      if (!between) {
        this.#index[i] = v;
        i = j;
      }
    }
    this.#index[i] = 0;
  }
}
