import {
  CreateCampaignRequest,
  OtaReport,
  compareVersions,
  isSemver,
  type OtaCampaignCounts,
  type OtaCampaignDeviceDto,
  type OtaCampaignDto,
  type OtaCommand,
} from "@vigil/contract";
import { VigilError, iso, newId, parseDeviceId, type Clock, type DeviceId, type Logger, type Millis } from "../core/index.js";
import { TIERS, type Tier } from "../policy/index.js";
import type { SignalBus } from "../signals/index.js";
import type {
  CampaignOptions,
  CampaignRecord,
  CampaignSelector,
  CampaignTargetRecord,
  DeviceNotifier,
  FleetDirectory,
  OtaArtifactRecord,
  OtaRepository,
  TargetState,
} from "./ports.js";
import { TARGET_STATES } from "./ports.js";
import { NotifyBudget, haltReason, inMaintenanceWindow, planWaves } from "./waves.js";

export interface CampaignServiceDeps {
  readonly repo: OtaRepository;
  readonly artifacts: { getArtifact(name: string): Promise<OtaArtifactRecord> };
  readonly notifier: DeviceNotifier;
  readonly fleet: FleetDirectory;
  readonly bus: SignalBus;
  readonly clock: Clock;
  readonly log: Logger;
  readonly tickMs: number;
  /**
   * Several nodes on one store: the lease whose holder alone runs the engine (ticks,
   * notifications, device reports). Absent: this node always runs it (a single node).
   */
  readonly lease?: CampaignLease;
  /** Several nodes: operator actions taken here, for the lease holder, and the other nodes' actions. */
  readonly peers?: CampaignPeers;
}

/** Port: a lease held by one node of the cluster at a time (`cluster/leader-lease.ts`). */
export interface CampaignLease {
  /** First attempt before it resolves; `onChange(true)` when gained, `onChange(false)` when lost. */
  start(onChange: (held: boolean) => Promise<void>): Promise<void>;
  /** Releases the lease (another node may take it at once). */
  stop(): Promise<void>;
}

/** An operator action on a campaign taken on a node that does not hold the lease (already in the store). */
export interface CampaignPeerAction {
  readonly campaign: string;
  readonly action: "start" | "pause" | "resume" | "rollback" | "cancel" | "rollback_device";
  readonly device?: string;
}

/** Port: operator actions between the nodes (the cluster's decision bus). At most once. */
export interface CampaignPeers {
  send(action: CampaignPeerAction): void;
  on(handler: (action: CampaignPeerAction) => void): () => void;
}

/** How often the lease holder looks in the store for campaigns started elsewhere that it missed. */
const RESYNC_MS = 10_000;

type Target = { -readonly [K in keyof CampaignTargetRecord]: CampaignTargetRecord[K] };

interface Active {
  record: CampaignRecord;
  readonly targets: Map<DeviceId, Target>;
  readonly budget: NotifyBudget;
  readonly dirty: Set<DeviceId>;
  readonly firmware: Map<DeviceId, string>;
  changed: boolean;
}

/** States of a device that was told to update and has not finished. */
const IN_FLIGHT: ReadonlySet<TargetState> = new Set(["notified", "downloading", "verified", "installing"]);
/** States of a device that was told to update, whatever came of it. */
const TOLD: ReadonlySet<TargetState> = new Set([
  "notified",
  "downloading",
  "verified",
  "installing",
  "installed",
  "failed",
  "rollback_sent",
  "rolled_back",
]);
const ACTIVE_STATES = new Set(["running", "paused", "halted", "rolling_back"]);

/**
 * The campaign engine. A campaign is a persisted state machine
 *
 *   draft -> running <-> paused;  running -> halted (by itself) -> running (resume)
 *   running | paused | halted -> rolling_back -> rolled_back;  running -> completed
 *
 * whose targets move pending -> notified -> downloading -> verified -> installing ->
 * installed | failed (or skipped when offline), and rollback_sent -> rolled_back. Every
 * change is written to the store before the next tick acts on it, so a restarted Vigil
 * resumes where it stopped. Devices are told through the `DeviceNotifier` port (the MQTT
 * control channel) at most `maxPerMinute`, only inside the maintenance window, wave by wave;
 * the campaign halts itself when failures or trust drops among the devices it told exceed
 * the thresholds, and then rolls back on its own unless rollback is manual.
 *
 * With several nodes on one store (`lease` given), only the node holding the lease runs the
 * engine: it loads the active campaigns when it gains the lease and drops them when it loses
 * it. An operator action on another node is validated and written to the store there, then
 * sent to the holder (`peers`), which applies it to its own state; the holder also looks in the
 * store every 10 s for a running campaign it does not know (a start whose message was lost).
 */
export class CampaignService {
  readonly #deps: CampaignServiceDeps;
  readonly #active = new Map<string, Active>();
  #timer: NodeJS.Timeout | undefined;
  #offAck: (() => Promise<void>) | undefined;
  #offTrust: (() => void) | undefined;
  #ticking: Promise<void> | undefined;
  #resyncTimer: NodeJS.Timeout | undefined;
  #offPeers: (() => void) | undefined;
  #kicked = false;
  #stopped = false;
  /** Runs the engine: always on a single node, while it holds the lease on several. */
  #leader = false;

  constructor(deps: CampaignServiceDeps) {
    this.#deps = deps;
  }

  async start(): Promise<void> {
    const { lease, peers } = this.#deps;
    if (lease === undefined) await this.#gain();
    this.#offAck = await this.#deps.notifier.onAck((device, payload) => this.#onAck(device, payload));
    this.#offTrust = this.#deps.bus.on("trust.changed", (p) => this.#onTrust(p.device, p.from, p.to));
    this.#offPeers = peers?.on((action) => void this.#onPeer(action));
    await lease?.start((held) => (held ? this.#gain() : this.#lose()));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (this.#resyncTimer !== undefined) clearInterval(this.#resyncTimer);
    this.#offTrust?.();
    this.#offPeers?.();
    await this.#offAck?.().catch(() => undefined);
    await this.#ticking;
    if (this.#leader) for (const active of this.#active.values()) await this.#persist(active);
    // Released only once everything is written: the next holder loads it.
    await this.#deps.lease?.stop();
    this.#leader = false;
  }

  /** Whether this node runs the campaign engine now (always true on a single node). */
  get leader(): boolean {
    return this.#leader;
  }

  /** This node runs the engine from now on: the active campaigns come from the store. */
  async #gain(): Promise<void> {
    if (this.#stopped) return;
    this.#active.clear();
    for (const record of await this.#deps.repo.listCampaigns()) {
      if (ACTIVE_STATES.has(record.state)) await this.#adopt(record);
    }
    this.#leader = true;
    this.#timer = setInterval(() => void this.tick(), this.#deps.tickMs);
    this.#timer.unref();
    if (this.#deps.lease !== undefined) {
      this.#resyncTimer = setInterval(() => void this.#resync(), RESYNC_MS);
      this.#resyncTimer.unref();
      this.#deps.log.info({ campaigns: [...this.#active.keys()] }, "running the update campaigns (lease gained)");
      this.#kick();
    } else if (this.#active.size > 0) {
      this.#deps.log.info({ campaigns: [...this.#active.keys()] }, "resumed update campaigns");
    }
  }

  /** Another node runs the engine now (or may): stop ticking and forget (the store has it all). */
  async #lose(): Promise<void> {
    this.#leader = false;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (this.#resyncTimer !== undefined) clearInterval(this.#resyncTimer);
    await this.#ticking;
    this.#active.clear();
    this.#deps.log.warn("no longer running the update campaigns (lease lost)");
  }

  /** Loads an active campaign into the engine; one rolling back gets its rollback commands again. */
  async #adopt(record: CampaignRecord): Promise<Active> {
    const active = await this.#load(record, true);
    if (this.#deps.lease !== undefined && record.state === "rolling_back") {
      // The previous holder (or the node an operator used) may not have sent them; a device
      // answers a repeated rollback again with the version it runs (idempotent).
      const command: OtaCommand = { type: "ota", op: "rollback", campaign: record.id };
      const sent = [...active.targets.values()].filter((t) => t.state === "rollback_sent");
      await Promise.allSettled(sent.map((t) => this.#deps.notifier.send(t.device, command)));
    }
    return active;
  }

  /** Lease holder: campaigns active in the store that it does not run (a lost `start` message). */
  async #resync(): Promise<void> {
    if (!this.#leader || this.#stopped) return;
    try {
      for (const record of await this.#deps.repo.listCampaigns()) {
        if (ACTIVE_STATES.has(record.state) && !this.#active.has(record.id) && this.#leader) {
          await this.#adopt(record);
          this.#kick();
        }
      }
    } catch (error) {
      this.#deps.log.error({ err: error }, "campaign resync failed");
    }
  }

  /** Lease holder: an operator action another node took (and wrote), applied to the running state. */
  async #onPeer(message: CampaignPeerAction): Promise<void> {
    if (!this.#leader || this.#stopped) return;
    try {
      const record = await this.#deps.repo.getCampaign(message.campaign);
      if (record === undefined || !this.#leader) return;
      let active = this.#active.get(record.id);
      if (active === undefined) {
        // Started (or rolled back) there: run it from what the store says.
        if (ACTIVE_STATES.has(record.state)) active = await this.#adopt(record);
        this.#kick();
        return;
      }
      const { state } = active.record;
      switch (message.action) {
        case "start":
          break;
        case "pause":
          if (state === "running") this.#transition(active, { state: "paused" });
          break;
        case "resume":
          if (state === "paused" || state === "halted") this.#resumeState(active);
          break;
        case "rollback":
          if (state !== "rolling_back") await this.#startRollback(active, "", { send: true, emit: false });
          break;
        case "cancel":
          this.#transition(active, { state: "cancelled" });
          await this.#persist(active);
          this.#active.delete(record.id);
          return;
        case "rollback_device": {
          const t = message.device === undefined ? undefined : active.targets.get(message.device as DeviceId);
          if (t === undefined || !(t.state === "installed" || t.state === "rollback_sent" || IN_FLIGHT.has(t.state))) break;
          this.#set(active, t, { state: "rollback_sent" }, this.#deps.clock.now());
          await this.#persist(active);
          await this.#deps.notifier.send(t.device, { type: "ota", op: "rollback", campaign: record.id });
          break;
        }
      }
      await this.#persist(active);
      this.#kick();
    } catch (error) {
      this.#deps.log.error(
        { err: error, campaign: message.campaign, action: message.action },
        "campaign action from another node failed",
      );
    }
  }

  /** After an operator action on a node that does not run the engine: tell the one that does. */
  #tellLeader(action: CampaignPeerAction): void {
    if (!this.#leader) this.#deps.peers?.send(action);
  }

  // ---- operator actions ----

  async create(input: CreateCampaignRequest, by: string): Promise<OtaCampaignDto> {
    const request = CreateCampaignRequest.parse(input);
    const artifact = await this.#deps.artifacts.getArtifact(request.artifact);
    const devices = await this.#select(request.target, artifact);
    const id = newId<string>("cmp", 9);
    const options: CampaignOptions = {
      canaryPercent: request.canaryPercent,
      wavePercent: request.wavePercent,
      maxPerMinute: request.maxPerMinute,
      failureThresholdPercent: request.failureThresholdPercent,
      trustDropThresholdPercent: request.trustDropThresholdPercent,
      rollback: request.rollback,
      window: request.window,
      deviceTimeoutSeconds: request.deviceTimeoutSeconds,
    };
    const plan = planWaves(
      id,
      devices.map((d) => d.id),
      options,
    );
    const now = this.#deps.clock.now();
    const record: CampaignRecord = {
      id,
      name: request.name,
      artifact: artifact.name,
      version: artifact.version,
      state: "draft",
      wave: 0,
      waves: plan.waves,
      selector: request.target,
      options,
      haltReason: null,
      baseline: { failed: 0, trustDrops: 0, notified: 0 },
      createdAt: now,
      updatedAt: now,
      createdBy: by,
    };
    const targets: CampaignTargetRecord[] = devices.map((d) => ({
      campaign: id,
      device: d.id,
      wave: plan.waveOf.get(d.id) ?? 0,
      state: "pending",
      fromVersion: d.firmwareVersion,
      reason: null,
      trustDropped: false,
      updatedAt: now,
    }));
    await this.#deps.repo.insertCampaign(record, targets);
    this.#deps.bus.emit("campaign.created", {
      campaign: id,
      name: record.name,
      artifact: artifact.name,
      devices: targets.length,
      waves: plan.waves,
      by,
    });
    return this.#dto(record, countOf(targets));
  }

  async startCampaign(id: string, by: string): Promise<OtaCampaignDto> {
    const record = await this.#record(id);
    if (record.state !== "draft") throw stateError(record, "start", "draft");
    const active = await this.#load(record, this.#leader);
    this.#transition(active, { state: "running" });
    await this.#persist(active);
    this.#deps.bus.emit("campaign.started", { campaign: id, by });
    this.#deps.bus.emit("campaign.wave_started", { campaign: id, wave: 0, devices: this.#waveSize(active, 0) });
    this.#tellLeader({ campaign: id, action: "start" });
    this.#kick();
    return this.#activeDto(active);
  }

  async pause(id: string, by: string): Promise<OtaCampaignDto> {
    const active = await this.#activeOf(id);
    if (active.record.state !== "running") throw stateError(active.record, "pause", "running");
    this.#transition(active, { state: "paused" });
    await this.#persist(active);
    this.#deps.bus.emit("campaign.paused", { campaign: id, by });
    this.#tellLeader({ campaign: id, action: "pause" });
    return this.#activeDto(active);
  }

  /** Paused or halted -> running. After a halt, the failures that caused it no longer count. */
  async resume(id: string, by: string): Promise<OtaCampaignDto> {
    const active = await this.#activeOf(id);
    const { state } = active.record;
    if (state !== "paused" && state !== "halted") throw stateError(active.record, "resume", "paused or halted");
    this.#resumeState(active);
    await this.#persist(active);
    this.#deps.bus.emit("campaign.resumed", { campaign: id, by });
    this.#tellLeader({ campaign: id, action: "resume" });
    this.#kick();
    return this.#activeDto(active);
  }

  #resumeState(active: Active): void {
    const judged = this.#judged(active);
    this.#transition(active, {
      state: "running",
      haltReason: null,
      ...(active.record.state === "halted"
        ? { baseline: { failed: judged.failed, trustDrops: judged.trustDrops, notified: judged.notified } }
        : {}),
    });
  }

  /** Tells every device this campaign touched to go back to its previous firmware. */
  async rollback(id: string, by: string): Promise<OtaCampaignDto> {
    const active = await this.#activeOf(id);
    if (active.record.state === "rolling_back") throw stateError(active.record, "roll back", "running, paused or halted");
    // Not running the engine here: written and announced; the lease holder tells the devices.
    await this.#startRollback(active, by, { send: this.#leader, emit: true });
    this.#tellLeader({ campaign: id, action: "rollback" });
    return this.#activeDto(active);
  }

  /**
   * Rolls ONE device back to its last good version: the version it ran before its newest install
   * in a campaign that has not completed (the device has not committed that install, so its
   * previous slot still holds the old image and its anti-rollback counter was not raised). The
   * device answers `rolled_back` with the version it runs (`ota.rolled_back`). A committed install
   * cannot be undone (anti-rollback): OTA_CAMPAIGN_STATE; roll forward with a fixed version instead.
   */
  async rollbackDevice(
    rawDevice: string,
    by: string,
  ): Promise<{ campaign: string; fromVersion: string | null; version: string }> {
    let found: { active: Active; target: Target } | undefined;
    for (const active of await this.#running()) {
      const t = active.targets.get(rawDevice as DeviceId);
      if (t === undefined || !(t.state === "installed" || IN_FLIGHT.has(t.state))) continue;
      if (found === undefined || t.updatedAt > found.target.updatedAt) found = { active, target: t };
    }
    if (found === undefined)
      throw new VigilError(
        "OTA_CAMPAIGN_STATE",
        `device ${rawDevice.slice(0, 128)} has no uncommitted install to roll back (a committed one cannot be undone)`,
        { hint: "Publish a fixed version and update the device to it (roll forward)." },
      );
    const { active, target } = found;
    this.#set(active, target, { state: "rollback_sent" }, this.#deps.clock.now());
    await this.#persist(active);
    this.#deps.bus.emit("campaign.rollback_started", { campaign: active.record.id, devices: 1, by });
    const command: OtaCommand = { type: "ota", op: "rollback", campaign: active.record.id };
    if (this.#leader) await this.#deps.notifier.send(target.device, command);
    else this.#tellLeader({ campaign: active.record.id, action: "rollback_device", device: target.device });
    return { campaign: active.record.id, fromVersion: target.fromVersion, version: active.record.version };
  }

  /** Stops telling devices; what was installed stays installed (roll back first to undo it). */
  async cancel(id: string, by: string): Promise<OtaCampaignDto> {
    const record = await this.#record(id);
    if (record.state !== "draft" && !ACTIVE_STATES.has(record.state)) {
      throw stateError(record, "cancel", "draft, running, paused, halted or rolling back");
    }
    const active = await this.#load(record, this.#leader);
    this.#transition(active, { state: "cancelled" });
    await this.#persist(active);
    this.#active.delete(id);
    const counts = countOf(active.targets.values());
    this.#deps.bus.emit("campaign.cancelled", { campaign: id, by, told: active.targets.size - counts.pending - counts.skipped });
    this.#tellLeader({ campaign: id, action: "cancel" });
    return this.#dto(active.record, counts);
  }

  async status(id: string): Promise<OtaCampaignDto> {
    const active = this.#active.get(id);
    if (active !== undefined) return this.#activeDto(active);
    const record = await this.#record(id);
    return this.#dto(record, countOf(await this.#deps.repo.targetsOf(id)));
  }

  async list(): Promise<OtaCampaignDto[]> {
    const out: OtaCampaignDto[] = [];
    for (const record of await this.#deps.repo.listCampaigns()) out.push(await this.status(record.id));
    return out;
  }

  async devices(id: string): Promise<OtaCampaignDeviceDto[]> {
    const active = this.#active.get(id);
    const targets =
      active !== undefined ? [...active.targets.values()] : await this.#deps.repo.targetsOf((await this.#record(id)).id);
    return targets
      .sort((a, b) => a.wave - b.wave || (a.device < b.device ? -1 : 1))
      .map((t) => ({
        device: t.device,
        wave: t.wave,
        state: t.state,
        fromVersion: t.fromVersion,
        reason: t.reason,
        updatedAt: iso(t.updatedAt),
      }));
  }

  /**
   * One step of every active campaign: timeouts, halt check, wave advance, notifications.
   * The timer calls it; tests may call it directly. Never runs twice at once.
   */
  tick(): Promise<void> {
    if (this.#ticking !== undefined) return this.#ticking;
    const run = (async () => {
      await Promise.resolve(); // so that `#ticking` is set before the step can finish
      try {
        for (const active of [...this.#active.values()]) await this.#step(active);
      } catch (error) {
        this.#deps.log.error({ err: error }, "campaign step failed");
      } finally {
        this.#ticking = undefined;
      }
    })();
    this.#ticking = run;
    return run;
  }

  // ---- the engine ----

  async #step(active: Active): Promise<void> {
    const now = this.#deps.clock.now();
    const { record } = active;
    const timeoutMs = record.options.deviceTimeoutSeconds * 1000;
    if (record.state === "cancelled") return;
    if (record.state === "running" || record.state === "paused" || record.state === "halted") {
      for (const t of active.targets.values()) {
        if (IN_FLIGHT.has(t.state) && now - t.updatedAt > timeoutMs) this.#fail(active, t, "timeout", null);
      }
    }
    if (record.state === "running") {
      const judged = this.#judged(active);
      const reason = haltReason(
        {
          notified: judged.notified - record.baseline.notified,
          failed: judged.failed - record.baseline.failed,
          trustDrops: judged.trustDrops - record.baseline.trustDrops,
        },
        record.options,
      );
      if (reason !== null) {
        await this.#halt(active, reason, judged);
      } else if (this.#waveDone(active, record.wave)) {
        if (record.wave + 1 < record.waves) {
          this.#transition(active, { wave: record.wave + 1 });
          this.#deps.bus.emit("campaign.wave_started", {
            campaign: record.id,
            wave: record.wave + 1,
            devices: this.#waveSize(active, record.wave + 1),
          });
        } else {
          await this.#complete(active);
          return;
        }
      }
      if (active.record.state === "running" && inMaintenanceWindow(record.options.window, now)) await this.#notify(active, now);
    } else if (active.record.state === "rolling_back") {
      for (const t of active.targets.values()) {
        if (t.state === "rollback_sent" && now - t.updatedAt > timeoutMs) this.#fail(active, t, "rollback_timeout", null);
      }
      if (![...active.targets.values()].some((t) => t.state === "rollback_sent")) {
        this.#transition(active, { state: "rolled_back" });
        const counts = countOf(active.targets.values());
        this.#deps.bus.emit("campaign.rolled_back", {
          campaign: record.id,
          rolledBack: counts.rolled_back,
          failed: counts.failed,
        });
      }
    }
    await this.#persist(active);
    if (active.record.state === "rolled_back") this.#active.delete(record.id);
  }

  async #notify(active: Active, now: Millis): Promise<void> {
    const due: Target[] = [];
    for (const t of active.targets.values()) if (t.state === "pending" && t.wave <= active.record.wave) due.push(t);
    if (due.length === 0) return;
    const n = active.budget.take(due.length, now);
    if (n === 0) return;
    const batch = due.slice(0, n);
    for (const t of batch) this.#set(active, t, { state: "notified", reason: null }, now);
    // Written before the devices are told: a restart never forgets a device it told.
    await this.#persist(active);
    const command: OtaCommand = {
      type: "ota",
      op: "update",
      campaign: active.record.id,
      target: active.record.artifact,
      version: active.record.version,
    };
    const results = await Promise.allSettled(batch.map((t) => this.#deps.notifier.send(t.device, command)));
    results.forEach((result, i) => {
      const t = batch[i] as Target;
      if (t.state !== "notified") return; // it already answered
      if (result.status === "rejected")
        this.#set(active, t, { state: "skipped", reason: "notify_failed" }, this.#deps.clock.now());
      else if (!result.value.online) this.#set(active, t, { state: "skipped", reason: "offline" }, this.#deps.clock.now());
    });
  }

  async #halt(
    active: Active,
    reason: "failures" | "trust_drop",
    judged: { notified: number; failed: number; trustDrops: number },
  ): Promise<void> {
    const { record } = active;
    const threshold = reason === "failures" ? record.options.failureThresholdPercent : record.options.trustDropThresholdPercent;
    this.#transition(active, {
      state: "halted",
      haltReason: `${reason === "failures" ? "failures" : "trust drops"} above ${threshold}% in wave ${record.wave}: ${
        reason === "failures" ? judged.failed - record.baseline.failed : judged.trustDrops - record.baseline.trustDrops
      } of ${judged.notified - record.baseline.notified} devices`,
    });
    await this.#persist(active);
    this.#deps.bus.emit("campaign.halted", {
      campaign: record.id,
      reason,
      wave: record.wave,
      failed: judged.failed - record.baseline.failed,
      trustDrops: judged.trustDrops - record.baseline.trustDrops,
      attempted: judged.notified - record.baseline.notified,
      thresholdPercent: threshold,
    });
    this.#deps.log.warn({ campaign: record.id, reason }, "update campaign halted itself");
    if (record.options.rollback === "automatic") await this.#startRollback(active, "vigil (automatic rollback)");
  }

  /**
   * `send`: tell the devices (false on a node that does not run the engine: the lease holder
   * does); `emit`: raise the signals (false on the lease holder applying another node's action,
   * which that node raised).
   */
  async #startRollback(
    active: Active,
    by: string,
    options: { send: boolean; emit: boolean } = { send: true, emit: true },
  ): Promise<void> {
    const now = this.#deps.clock.now();
    const touched = [...active.targets.values()].filter((t) => IN_FLIGHT.has(t.state) || t.state === "installed");
    for (const t of touched) this.#set(active, t, { state: "rollback_sent" }, now);
    this.#transition(active, { state: touched.length > 0 ? "rolling_back" : "rolled_back" });
    await this.#persist(active);
    if (options.emit)
      this.#deps.bus.emit("campaign.rollback_started", { campaign: active.record.id, devices: touched.length, by });
    const command: OtaCommand = { type: "ota", op: "rollback", campaign: active.record.id };
    const results = options.send ? await Promise.allSettled(touched.map((t) => this.#deps.notifier.send(t.device, command))) : [];
    results.forEach((r, i) => {
      if (r.status === "rejected")
        this.#deps.log.warn({ device: touched[i]?.device, err: r.reason }, "rollback command not sent");
    });
    if (touched.length === 0) {
      if (options.emit)
        this.#deps.bus.emit("campaign.rolled_back", {
          campaign: active.record.id,
          rolledBack: 0,
          failed: countOf(active.targets.values()).failed,
        });
      this.#active.delete(active.record.id);
    }
  }

  async #complete(active: Active): Promise<void> {
    this.#transition(active, { state: "completed" });
    await this.#persist(active);
    this.#active.delete(active.record.id);
    const counts = countOf(active.targets.values());
    this.#deps.bus.emit("campaign.completed", { campaign: active.record.id, installed: counts.installed, failed: counts.failed });
    // The devices may now raise their anti-rollback counter (the update can no longer be rolled back).
    const command: OtaCommand = { type: "ota", op: "commit", campaign: active.record.id };
    const installed = [...active.targets.values()].filter((t) => t.state === "installed");
    await Promise.allSettled(installed.map((t) => this.#deps.notifier.send(t.device, command)));
  }

  // ---- device reports ----

  #onAck(rawDevice: string, payload: Buffer): void {
    if (this.#stopped || !this.#leader) return; // every node hears every ack; the lease holder acts on them
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload.toString("utf8"));
    } catch {
      return; // not ours (or not JSON): the ack channel is shared with other commands
    }
    if ((parsed as { type?: unknown } | null)?.type !== "ota") return;
    const report = OtaReport.safeParse(parsed);
    const device = parseDeviceId(rawDevice);
    if (!report.success || device === undefined) {
      this.#deps.log.warn({ device: rawDevice.slice(0, 128) }, "malformed OTA report ignored");
      return;
    }
    const active = this.#active.get(report.data.campaign);
    const target = active?.targets.get(device);
    if (active === undefined || target === undefined) {
      // A refusal of an update Vigil did not send: someone else tried to change the firmware.
      if (report.data.state === "failed")
        this.#deps.bus.emit("ota.refused", {
          device,
          campaign: report.data.campaign,
          reason: report.data.reason ?? "unknown",
          version: report.data.version,
        });
      return;
    }
    this.#apply(active, target, report.data);
    this.#kick();
  }

  #apply(active: Active, t: Target, report: OtaReport): void {
    const now = this.#deps.clock.now();
    const campaign = active.record.id;
    if (IN_FLIGHT.has(t.state)) {
      switch (report.state) {
        case "downloading":
        case "verified":
        case "installing":
          this.#set(active, t, { state: report.state }, now);
          return;
        case "installed": {
          const version = report.version ?? active.record.version;
          this.#set(active, t, { state: "installed", reason: null }, now);
          active.firmware.set(t.device, version);
          this.#deps.bus.emit("ota.installed", { device: t.device, version, previousVersion: t.fromVersion, campaign });
          return;
        }
        case "failed":
          this.#fail(active, t, report.reason ?? "unknown", report.version);
          return;
        case "rolled_back":
          // Not asked for: the device's boot check failed and it went back on its own.
          if (report.version !== null) active.firmware.set(t.device, report.version);
          this.#deps.bus.emit("ota.rolled_back", {
            device: t.device,
            version: report.version,
            campaign,
            reason: report.reason ?? "boot_check_failed",
          });
          this.#fail(active, t, report.reason ?? "boot_check_failed", report.version);
          return;
      }
    }
    if (t.state === "rollback_sent") {
      if (report.state === "rolled_back" && report.reason === "boot_check_failed") {
        // Its own boot check failed before the rollback reached it: a failure (and back on the old version).
        if (report.version !== null) active.firmware.set(t.device, report.version);
        this.#deps.bus.emit("ota.rolled_back", { device: t.device, version: report.version, campaign, reason: report.reason });
        this.#fail(active, t, report.reason, report.version);
      } else if (report.state === "rolled_back") {
        this.#set(active, t, { state: "rolled_back", reason: report.reason ?? "campaign_rollback" }, now);
        if (report.version !== null) active.firmware.set(t.device, report.version);
        this.#deps.bus.emit("ota.rolled_back", {
          device: t.device,
          version: report.version,
          campaign,
          reason: report.reason ?? "campaign_rollback",
        });
      } else if (report.state === "failed") {
        this.#fail(active, t, report.reason ?? "unknown", report.version);
      } else if (report.state === "installed" && report.version !== null) {
        active.firmware.set(t.device, report.version); // finished before the rollback reached it; the rollback follows
      }
    }
  }

  #fail(active: Active, t: Target, reason: string, runningVersion: string | null): void {
    this.#set(active, t, { state: "failed", reason }, this.#deps.clock.now());
    this.#deps.bus.emit("ota.failed", {
      device: t.device,
      version: active.record.version,
      campaign: active.record.id,
      reason,
      runningVersion: runningVersion ?? t.fromVersion,
    });
  }

  #onTrust(rawDevice: string, from: string | null, to: string): void {
    const device = parseDeviceId(rawDevice);
    if (device === undefined || from === null) return;
    const rank = (tier: string) => TIERS.indexOf(tier as Tier);
    if (rank(to) < 0 || rank(from) < 0 || rank(to) >= rank(from)) return;
    for (const active of this.#active.values()) {
      const t = active.targets.get(device);
      if (t !== undefined && t.state === "installed" && !t.trustDropped) {
        this.#set(active, t, { trustDropped: true }, t.updatedAt);
        this.#kick();
      }
    }
  }

  // ---- helpers ----

  /** Runs a tick soon (coalesced): reports and trust drops are acted on without waiting for the timer. */
  #kick(): void {
    if (this.#kicked || this.#stopped) return;
    this.#kicked = true;
    setImmediate(() => {
      this.#kicked = false;
      void this.tick();
    });
  }

  #set(active: Active, t: Target, change: Partial<Target>, at: Millis): void {
    Object.assign(t, change, { updatedAt: at });
    active.dirty.add(t.device);
  }

  #transition(active: Active, change: Partial<CampaignRecord>): void {
    active.record = { ...active.record, ...change, updatedAt: this.#deps.clock.now() };
    active.changed = true;
  }

  async #persist(active: Active): Promise<void> {
    if (active.dirty.size > 0 || active.firmware.size > 0) {
      const targets = [...active.dirty].map((d) => ({ ...(active.targets.get(d) as Target) }));
      const firmware = new Map(active.firmware);
      active.dirty.clear();
      active.firmware.clear();
      await this.#deps.repo.saveTargets(targets, firmware);
    }
    if (active.changed) {
      active.changed = false;
      await this.#deps.repo.updateCampaign(active.record);
    }
  }

  #judged(active: Active): { notified: number; failed: number; trustDrops: number } {
    let notified = 0;
    let failed = 0;
    let trustDrops = 0;
    for (const t of active.targets.values()) {
      if (TOLD.has(t.state)) notified++;
      if (t.state === "failed") failed++;
      if (t.trustDropped) trustDrops++;
    }
    return { notified, failed, trustDrops };
  }

  #waveDone(active: Active, wave: number): boolean {
    for (const t of active.targets.values())
      if (t.wave <= wave && (t.state === "pending" || IN_FLIGHT.has(t.state))) return false;
    return true;
  }

  #waveSize(active: Active, wave: number): number {
    let n = 0;
    for (const t of active.targets.values()) if (t.wave === wave) n++;
    return n;
  }

  /** `register`: the engine runs it (false: a copy to validate and write an operator action on a node that does not run the engine). */
  async #load(record: CampaignRecord, register: boolean): Promise<Active> {
    const existing = register ? this.#active.get(record.id) : undefined;
    if (existing !== undefined) return existing;
    const targets = new Map<DeviceId, Target>();
    for (const t of await this.#deps.repo.targetsOf(record.id)) targets.set(t.device, { ...t });
    const loaded = register ? this.#active.get(record.id) : undefined;
    if (loaded !== undefined) return loaded; // loaded meanwhile (a resync and an action from another node)
    const active: Active = {
      record,
      targets,
      budget: new NotifyBudget(record.options.maxPerMinute, this.#deps.clock.now()),
      dirty: new Set(),
      firmware: new Map(),
      changed: false,
    };
    if (register) this.#active.set(record.id, active);
    return active;
  }

  async #record(id: string): Promise<CampaignRecord> {
    const record = id.length <= 64 ? await this.#deps.repo.getCampaign(id) : undefined;
    if (record === undefined) {
      throw new VigilError("OTA_CAMPAIGN_NOT_FOUND", `no campaign ${JSON.stringify(id.slice(0, 70))}`, {
        hint: "List campaigns with `vigil ota campaign status`.",
      });
    }
    return record;
  }

  async #activeOf(id: string): Promise<Active> {
    const active = this.#active.get(id);
    if (active !== undefined) return active;
    const record = await this.#record(id);
    if (!this.#leader && ACTIVE_STATES.has(record.state)) return this.#load(record, false);
    throw stateError(record, "change", "running, paused or halted");
  }

  /** The active campaigns: the engine's own, or (not running it) copies read from the store. */
  async #running(): Promise<Iterable<Active>> {
    if (this.#leader) return this.#active.values();
    const out: Active[] = [];
    for (const record of await this.#deps.repo.listCampaigns())
      if (ACTIVE_STATES.has(record.state)) out.push(await this.#load(record, false));
    return out;
  }

  async #select(selector: CampaignSelector, artifact: OtaArtifactRecord) {
    const invalid = (why: string) =>
      new VigilError("OTA_CAMPAIGN_INVALID", `cannot create this campaign: ${why}`, {
        hint: "Target devices of the artifact's profile: --profile, --tag, --tier or --devices.",
      });
    if (selector.profile !== undefined && selector.profile !== artifact.profile) {
      throw invalid(`artifact ${artifact.name} is for profile ${artifact.profile}, not ${selector.profile}`);
    }
    if (selector.tags !== undefined && this.#deps.fleet.tagsOf === undefined) throw invalid("device tags are not available here");
    const wanted = selector.devices === undefined ? undefined : new Set(selector.devices);
    const picked = [];
    for await (const device of this.#deps.fleet.activeDevices()) {
      if (wanted !== undefined && !wanted.has(device.id)) continue;
      if (wanted !== undefined && device.profile !== artifact.profile) {
        throw invalid(`device ${device.id} has profile ${device.profile ?? "none"}, the artifact is for ${artifact.profile}`);
      }
      if (device.profile !== artifact.profile) continue;
      if (selector.tags !== undefined) {
        const tags = this.#deps.fleet.tagsOf?.(device) ?? [];
        if (!selector.tags.every((tag) => tags.includes(tag))) continue;
      }
      if (selector.tiers !== undefined && !selector.tiers.includes(this.#deps.fleet.tierOf?.(device) ?? "standard")) continue;
      // Already at (or past) the version: nothing to do for it.
      if (
        device.firmwareVersion !== null &&
        isSemver(device.firmwareVersion) &&
        compareVersions(device.firmwareVersion, artifact.version) >= 0
      ) {
        continue;
      }
      wanted?.delete(device.id);
      picked.push(device);
    }
    if (wanted !== undefined && wanted.size > 0) {
      const missing = [...wanted].slice(0, 3).join(", ");
      throw invalid(`${missing}: not an active device, or already at ${artifact.version}`);
    }
    if (picked.length === 0) throw invalid("no active device matches the target and needs this version");
    return picked;
  }

  #activeDto(active: Active): OtaCampaignDto {
    return this.#dto(active.record, countOf(active.targets.values()));
  }

  #dto(record: CampaignRecord, counts: OtaCampaignCounts): OtaCampaignDto {
    let devices = 0;
    for (const n of Object.values(counts)) devices += n;
    return {
      id: record.id,
      name: record.name,
      artifact: record.artifact,
      version: record.version,
      state: record.state,
      wave: record.wave,
      waves: record.waves,
      devices,
      counts,
      options: { ...record.options },
      haltReason: record.haltReason,
      createdAt: iso(record.createdAt),
      updatedAt: iso(record.updatedAt),
      createdBy: record.createdBy,
    };
  }
}

function countOf(targets: Iterable<{ state: TargetState }>): OtaCampaignCounts {
  const counts = Object.fromEntries(TARGET_STATES.map((s) => [s, 0])) as Record<TargetState, number>;
  for (const t of targets) counts[t.state]++;
  return counts;
}

function stateError(record: CampaignRecord, action: string, needed: string): VigilError {
  return new VigilError("OTA_CAMPAIGN_STATE", `cannot ${action} campaign ${record.id}: it is ${record.state}, not ${needed}`, {
    hint: "See its state with `vigil ota campaign status ID`.",
  });
}
