import { randomBytes } from "node:crypto";

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

/**
 * Where drills are kept (the store's `drills` table on SQLite and PostgreSQL): a drill survives
 * a restart of the node that started it, and every node of a cluster tags what it records.
 */
export interface DrillRepository {
  /** Inserts or replaces a drill (ending one moves its `endsAt` earlier). */
  save(drill: Drill): Promise<void>;
  /** The latest `limit` drills by start, the latest first. */
  recent(limit: number): Promise<Drill[]>;
}

/** Drills kept for listing (ended ones included), oldest dropped first. */
const MAX_DRILLS = 200;

export class DrillRegistry {
  readonly #drills = new Map<string, Drill>();
  readonly #now: () => number;
  #repository: DrillRepository | undefined;
  #active: Drill[] = [];
  #seq = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /**
   * Keeps drills in `repository` from now on and reads the stored ones (at start, and every
   * `syncEveryMs` when given: how the nodes of a cluster learn of drills started elsewhere). A
   * drill ended anywhere ends here too.
   */
  async load(repository: DrillRepository, syncEveryMs?: number): Promise<void> {
    this.#repository = repository;
    await this.#sync();
    if (syncEveryMs !== undefined && this.#timer === undefined) {
      this.#timer = setInterval(() => void this.#sync().catch(() => undefined), syncEveryMs);
      this.#timer.unref();
    }
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Writes a drill that `start` or `end` changed to the store (no-op without one). */
  async save(drill: Drill): Promise<void> {
    await this.#repository?.save(drill);
  }

  async #sync(): Promise<void> {
    if (this.#repository === undefined) return;
    const stored = await this.#repository.recent(MAX_DRILLS);
    for (const drill of stored.reverse()) {
      const known = this.#drills.get(drill.id);
      if (known === undefined) this.#drills.set(drill.id, { ...drill });
      else known.endsAt = Math.min(known.endsAt, drill.endsAt);
    }
    this.#trim();
    this.#refresh();
  }

  #trim(): void {
    if (this.#drills.size <= MAX_DRILLS) return;
    const oldestFirst = [...this.#drills.values()].sort((a, b) => a.startedAt - b.startedAt);
    for (const d of oldestFirst.slice(0, this.#drills.size - MAX_DRILLS)) this.#drills.delete(d.id);
  }

  /** Registers a drill starting now for `durationMs`. */
  start(input: { name: string; devices: readonly string[]; prefixes: readonly string[]; durationMs: number; by: string }): Drill {
    const startedAt = this.#now();
    const drill: Drill = {
      // Unique across the nodes of a cluster: time, this registry's sequence and 24 random bits.
      id: `drl_${startedAt.toString(36)}${(++this.#seq).toString(36)}${randomBytes(3).toString("hex")}`,
      name: input.name,
      devices: [...new Set(input.devices)],
      prefixes: [...new Set(input.prefixes)],
      startedAt,
      endsAt: startedAt + input.durationMs,
      by: input.by,
    };
    this.#drills.set(drill.id, drill);
    this.#trim();
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
    return [...this.#drills.values()].reverse().sort((a, b) => b.startedAt - a.startedAt);
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
