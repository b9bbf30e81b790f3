/**
 * The drills in progress: which devices an exercise (`vigil drill`) acts on, and until when.
 * What the platform records about them — audit entries, incidents, outgoing events — is
 * tagged with the drill's id, so that operators and reports tell drills from real attacks and
 * drill incidents stay out of the real response-time figures. A device belongs to a drill when
 * its id is listed or starts with one of the drill's prefixes (the identities a drill creates
 * as it goes: a rogue enrollment, a replayed token's claimants), between the drill's start and
 * its end.
 */
export interface Drill {
  readonly id: string;
  readonly name: string;
  readonly devices: readonly string[];
  readonly prefixes: readonly string[];
  readonly startedAt: number;
  /** When it stops tagging (the planned end, or when it was ended early). */
  endsAt: number;
  readonly by: string;
}

/** Drills kept for listing (ended ones included), oldest dropped first. */
const MAX_DRILLS = 200;

export class DrillRegistry {
  readonly #drills = new Map<string, Drill>();
  readonly #now: () => number;
  #active: Drill[] = [];
  #seq = 0;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Registers a drill starting now for `durationMs`. */
  start(input: { name: string; devices: readonly string[]; prefixes: readonly string[]; durationMs: number; by: string }): Drill {
    const startedAt = this.#now();
    const drill: Drill = {
      id: `drl_${startedAt.toString(36)}${(++this.#seq).toString(36)}`,
      name: input.name,
      devices: [...new Set(input.devices)],
      prefixes: [...new Set(input.prefixes)],
      startedAt,
      endsAt: startedAt + input.durationMs,
      by: input.by,
    };
    this.#drills.set(drill.id, drill);
    for (const id of this.#drills.keys()) {
      if (this.#drills.size <= MAX_DRILLS) break;
      this.#drills.delete(id);
    }
    this.#refresh();
    return drill;
  }

  /** Ends a drill now (tagging stops); undefined when unknown. */
  end(id: string): Drill | undefined {
    const drill = this.#drills.get(id);
    if (drill === undefined) return undefined;
    drill.endsAt = Math.min(drill.endsAt, this.#now());
    this.#refresh();
    return drill;
  }

  get(id: string): Drill | undefined {
    return this.#drills.get(id);
  }

  list(): Drill[] {
    return [...this.#drills.values()].reverse();
  }

  /**
   * The drill `device` is part of at `at` (default now), or undefined. O(drills in progress),
   * and nothing at all when none is: this runs on every signal.
   */
  drillOf(device: string | null | undefined, at = this.#now()): string | undefined {
    if (this.#active.length === 0 || typeof device !== "string") return undefined;
    for (const d of this.#active) {
      if (at < d.startedAt || at > d.endsAt) continue;
      if (d.devices.includes(device) || d.prefixes.some((p) => device.startsWith(p))) return d.id;
    }
    return undefined;
  }

  /** The drill a signal's payload belongs to: by its `device` (or `incident`'s device, when given). */
  drillOfPayload(payload: unknown, at?: number): string | undefined {
    if (this.#active.length === 0 || typeof payload !== "object" || payload === null) return undefined;
    return this.drillOf((payload as { device?: unknown }).device as string | undefined, at);
  }

  #refresh(): void {
    const now = this.#now();
    // Drills that have not ended, plus those that ended in the last minute (late evidence).
    this.#active = [...this.#drills.values()].filter((d) => d.endsAt + 60_000 >= now);
  }
}
