import type { DeviceId } from "../core/index.js";
import { isActive, type Incident, type IncidentState } from "./incident.js";
import type { IncidentRepository } from "./ports.js";

/** Incidents in memory (unit tests). Stores copies, as a database would. */
export class MemoryIncidentRepository implements IncidentRepository {
  readonly #items = new Map<string, Incident>();

  async save(incident: Incident): Promise<void> {
    this.#items.set(incident.id, structuredClone(incident));
  }
  async get(id: string): Promise<Incident | undefined> {
    const i = this.#items.get(id);
    return i === undefined ? undefined : structuredClone(i);
  }
  async listActive(): Promise<Incident[]> {
    return [...this.#items.values()].filter((i) => isActive(i.state)).map((i) => structuredClone(i));
  }
  async list(query: { limit: number; state?: IncidentState | undefined; device?: DeviceId | undefined }): Promise<Incident[]> {
    return [...this.#items.values()]
      .filter(
        (i) =>
          (query.state === undefined || i.state === query.state) && (query.device === undefined || i.device === query.device),
      )
      .sort((a, b) => b.openedAt - a.openedAt)
      .slice(0, query.limit)
      .map((i) => structuredClone(i));
  }
}
