import type { DeviceId, Logger } from "../core/index.js";
import type { Tier } from "../policy/index.js";
import type { ClusterBus } from "./cluster-bus.js";
import type { ClusterMessage, DeviceDecisionMessage } from "./cluster-message.js";

/** The gateway's enforcement ports (implemented by `Gateway`), as this node sees them. */
export interface LocalSessions {
  applyTier(deviceId: string, tier: Tier, reason: string): Promise<number>;
  disconnect(deviceId: string, reason?: "revoked" | "disconnected_by_operator"): boolean;
}

const MAX_DECIDED = 200_000;

/**
 * The enforcement ports of trust, detection and response, cluster-wide: a decision taken
 * on this node is applied to this node's gateway (if it runs one) and sent to every other
 * node, which applies it to its own live sessions. Counts returned are this node's.
 *
 * It also remembers the last tier decided for a device anywhere in the cluster, so that a
 * device that reconnects to another node gets it (`tierFloor`), until a later decision.
 */
export class ClusterEnforcement {
  readonly #bus: ClusterBus;
  readonly #local: () => LocalSessions | undefined;
  readonly #log: Logger;
  readonly #decided = new Map<string, Tier>();
  readonly #listeners = new Set<(message: DeviceDecisionMessage, appliedAt: number) => void>();
  #off: (() => void) | undefined;

  constructor(deps: { bus: ClusterBus; local: () => LocalSessions | undefined; log: Logger }) {
    this.#bus = deps.bus;
    this.#local = deps.local;
    this.#log = deps.log;
  }

  start(): void {
    this.#off = this.#bus.onDecision((message) => this.#apply(message));
  }

  stop(): void {
    this.#off?.();
  }

  async applyTier(deviceId: string, tier: Tier, reason: string): Promise<number> {
    this.#remember(deviceId, tier);
    this.#bus.send({ kind: "tier", device: deviceId, tier, reason: reason.slice(0, 300) });
    return (await this.#local()?.applyTier(deviceId, tier, reason)) ?? 0;
  }

  quarantine(deviceId: string, reason: string): Promise<number> {
    return this.applyTier(deviceId, "quarantine", reason);
  }

  disconnect(deviceId: string): boolean {
    this.#bus.send({ kind: "disconnect", device: deviceId, reason: "disconnected_by_operator" });
    return this.#local()?.disconnect(deviceId) ?? false;
  }

  /** `identity.revoked` on this node: every other node cuts the device's session too. */
  revoked(deviceId: string, serials: readonly string[], reason: string): void {
    this.#bus.send({ kind: "revoke", device: deviceId, reason: reason.slice(0, 300), serials: [...serials].slice(0, 64) });
  }

  /** The last tier decided in the cluster for this device, if any (for its next connection). */
  decidedTier(deviceId: DeviceId | string): Tier | undefined {
    return this.#decided.get(deviceId);
  }

  /** Observes each decision applied from another node (tests and the benchmark measure propagation). */
  onApplied(listener: (message: DeviceDecisionMessage, appliedAt: number) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #remember(deviceId: string, tier: Tier): void {
    this.#decided.delete(deviceId);
    this.#decided.set(deviceId, tier);
    if (this.#decided.size > MAX_DECIDED) {
      const oldest = this.#decided.keys().next().value;
      if (oldest !== undefined) this.#decided.delete(oldest);
    }
  }

  #apply(received: ClusterMessage): void {
    if (received.kind === "campaign") return; // the campaign engine's (see ota/campaign-service.ts)
    const message: DeviceDecisionMessage = received;
    const local = this.#local();
    const done = () => {
      const at = Date.now();
      for (const listener of this.#listeners) listener(message, at);
    };
    switch (message.kind) {
      case "tier": {
        const tier = message.tier as Tier;
        this.#remember(message.device, tier);
        if (local === undefined) return done();
        local
          .applyTier(message.device, tier, `${message.reason} (from ${message.node})`)
          .then(done)
          .catch((error: unknown) =>
            this.#log.warn({ err: error, device: message.device, from: message.node }, "cluster tier decision not applied"),
          );
        return;
      }
      case "disconnect":
        local?.disconnect(message.device);
        return done();
      case "revoke":
        local?.disconnect(message.device, "revoked");
        return done();
    }
  }
}
