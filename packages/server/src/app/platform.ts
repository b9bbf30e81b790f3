import { rm, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { buildApi, type Api, type PlatformStatus } from "../api/index.js";
import { AuditLog } from "../audit/index.js";
import {
  InProcessBus,
  Lifecycle,
  Metrics,
  VigilError,
  createRootLogger,
  moduleLogger,
  systemClock,
  type Clock,
  type DeviceId,
  type Logger,
  type Millis,
  type Service,
} from "../core/index.js";
import { EnrollmentService } from "../enrollment/index.js";
import { Gateway, LegacyPasswords } from "../gateway/index.js";
import { TrustService } from "../trust/index.js";
import { DetectionService } from "../detection/index.js";
import { ResponseService, gatewayControlChannel, responsePlaybooks, responseSinks } from "../response/index.js";
import { AssessmentService } from "../assessment/index.js";
import { CampaignService, UpdateRepository, repositoryFleet, type DeviceNotifier } from "../ota/index.js";
import { loadDefaultProfiles, type Profile } from "../policy/index.js";
import {
  CertificateAuthority,
  DeviceRegistry,
  IdentityService,
  SealedFields,
  SealedFileVault,
  openMasterKeyRing,
  rotateMasterKey,
  type MasterKeyRing,
  type RelyingParty,
  type RotationResult,
  ensureApiTls,
  loadApiTls,
  vaultSigningKeyStore,
  type ApiTlsMaterial,
  type KeyVault,
} from "../identity/index.js";
import { OperatorAdmin, OperatorService, type InitialPasswordDrop } from "../operators/index.js";
import { DrillRegistry, type SignalMap } from "../signals/index.js";
import { openPostgresStore, openSqliteStore, type Store } from "../store/index.js";
import { ClusterNode, defaultNodeId, type ClusterEnforcement } from "../cluster/index.js";
import type { VigilConfig } from "./config.js";
import {
  INITIAL_PASSWORD_FILE,
  lockDataDir,
  prepareDataDir,
  removeDaemonInfo,
  writeDaemonInfo,
  type DataDirLock,
} from "./data-dir.js";
import { VERSION } from "./version.js";

export interface PlatformOptions {
  readonly config: VigilConfig;
  readonly clock?: Clock;
  /** Defaults to a pino logger on stdout at the configured level. */
  readonly log?: Logger;
  /** Called once, on first start only, with the admin's one-time password (to print it). */
  readonly onInitialPassword?: (credentials: { username: string; password: string; file: string }) => void;
  /** Collect process metrics (off in tests that run several platforms in one process). */
  readonly processMetrics?: boolean;
  /** The OTA control channel; defaults to the MQTT gateway's `vigil/{device}/cmd` and `/ack` (tests and benchmarks plug their own). */
  readonly otaNotifier?: DeviceNotifier;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/**
 * One running Vigil: data dir -> store -> domain services -> API, started in that order and
 * stopped in reverse (STYLE habit 5). `app/` is the only place that knows every module.
 */
export class Platform {
  readonly config: VigilConfig;
  readonly log: Logger;
  readonly clock: Clock;
  readonly bus: InProcessBus<SignalMap>;
  /** Drills in progress (`POST /api/v1/drills`): what they trigger is tagged as a drill. */
  readonly drills: DrillRegistry;
  readonly metrics: Metrics;
  readonly startedAt = new Date();
  readonly #lifecycle: Lifecycle;
  readonly #options: PlatformOptions;
  #lock: DataDirLock | undefined;
  #store: Store | undefined;
  #api: Api | undefined;
  #tls: ApiTlsMaterial | undefined;
  #operators: OperatorService | undefined;
  #devices: DeviceRegistry | undefined;
  #vault: SealedFileVault | undefined;
  #masterKey: MasterKeyRing | undefined;
  #sealedFields: SealedFields | undefined;
  #operatorAdmin: OperatorAdmin | undefined;
  #ca: CertificateAuthority | undefined;
  #identity: IdentityService | undefined;
  #enrollment: EnrollmentService | undefined;
  #profiles: ReadonlyMap<string, Profile> | undefined;
  #audit: AuditLog | undefined;
  #gateway: Gateway | undefined;
  #trust: TrustService | undefined;
  #detection: DetectionService | undefined;
  #assessment: AssessmentService | undefined;
  #updates: UpdateRepository | undefined;
  #campaigns: CampaignService | undefined;
  #response: ResponseService | undefined;
  #cluster: ClusterNode | undefined;
  #url: string | undefined;

  constructor(options: PlatformOptions) {
    this.#options = options;
    this.config = options.config;
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? createRootLogger({ level: options.config.log.level });
    this.bus = new InProcessBus<SignalMap>(moduleLogger(this.log, "signals"));
    this.drills = new DrillRegistry(() => this.clock.now());
    this.metrics = new Metrics({ processMetrics: options.processMetrics ?? true });
    this.#lifecycle = new Lifecycle(moduleLogger(this.log, "lifecycle"));
    for (const service of this.#services()) this.#lifecycle.add(service);
  }

  /** The API's base URL once started, e.g. `https://127.0.0.1:8443`. */
  get url(): string {
    if (this.#url === undefined) throw new Error("platform not started");
    return this.#url;
  }

  get caFile(): string {
    if (this.#tls === undefined) throw new Error("platform not started");
    return this.#tls.caFile;
  }

  get ca(): string {
    if (this.#tls === undefined) throw new Error("platform not started");
    return this.#tls.ca;
  }

  get store(): Store {
    if (this.#store === undefined) throw new Error("platform not started");
    return this.#store;
  }

  #legacyPasswords: LegacyPasswords | undefined;

  /** MQTT passwords of legacy devices without a certificate (argon2id; `mqtt.legacyPasswordAuth`). */
  get legacyPasswords(): LegacyPasswords {
    this.#legacyPasswords ??= new LegacyPasswords({
      credentials: this.store.legacyCredentials,
      devices: this.store.devices,
      bus: this.bus,
      clock: this.clock,
    });
    return this.#legacyPasswords;
  }

  get operators(): OperatorService {
    if (this.#operators === undefined) throw new Error("platform not started");
    return this.#operators;
  }

  /** The HTTP API (fastify), for tests that enumerate or inject into its routes. */
  get http(): Api {
    if (this.#api === undefined) throw new Error("platform not started");
    return this.#api;
  }

  /** Field-level encryption at rest (a data key per table, wrapped by the master key). */
  get sealedFields(): SealedFields {
    if (this.#sealedFields === undefined) throw new Error("platform not started");
    return this.#sealedFields;
  }

  /**
   * Rotates the master key while running: every vault item and data key is re-wrapped,
   * then the new key file replaces the old one (see identity/pki/master-key-ring.ts).
   */
  async rotateMasterKey(by: string): Promise<RotationResult> {
    if (this.#masterKey === undefined || this.#vault === undefined || this.#sealedFields === undefined) {
      throw new Error("platform not started");
    }
    const result = await rotateMasterKey({
      file: this.#masterKeyFile(),
      ring: this.#masterKey,
      vault: this.#vault,
      dataKeys: this.#sealedFields,
    });
    this.bus.emit("keys.rotated", { by, ...result });
    this.log.info(
      { masterKeyId: result.masterKeyId, vaultItems: result.vaultItems, dataKeys: result.dataKeys },
      "master key rotated",
    );
    return result;
  }

  #masterKeyFile(): string {
    return this.config.keys.masterKeyFile ?? join(this.config.dataDir, "keys", "master.key");
  }

  /** Who Vigil is to WebAuthn authenticators: the console's domain and origin. */
  #relyingParty(): RelyingParty {
    const host = this.config.http.host;
    const loopback = LOOPBACK.test(host) || host === "0.0.0.0" || host === "::";
    return {
      id: this.config.auth.webauthnRpId ?? (loopback ? "localhost" : host),
      name: "Vigil",
      origins: [this.config.auth.webauthnOrigin ?? this.#url ?? `https://${host}`],
    };
  }

  get authority(): CertificateAuthority {
    if (this.#ca === undefined) throw new Error("platform not started");
    return this.#ca;
  }

  get enrollment(): EnrollmentService {
    if (this.#enrollment === undefined) throw new Error("platform not started");
    return this.#enrollment;
  }

  get identity(): IdentityService {
    if (this.#identity === undefined) throw new Error("platform not started");
    return this.#identity;
  }

  /** Trust scores, tiers and their explanations. */
  get trust(): TrustService {
    if (this.#trust === undefined) throw new Error("platform not started");
    return this.#trust;
  }

  /** SBOMs, advisories, findings, audit checks, compliance reports. */
  get assessment(): AssessmentService {
    if (this.#assessment === undefined) throw new Error("platform not started");
    return this.#assessment;
  }

  /** OTA: signing keys, signed metadata and firmware images. */
  get updates(): UpdateRepository {
    if (this.#updates === undefined) throw new Error("platform not started");
    return this.#updates;
  }

  /** OTA: update campaigns. */
  get campaigns(): CampaignService {
    if (this.#campaigns === undefined) throw new Error("platform not started");
    return this.#campaigns;
  }

  /** Incidents, playbooks and notifications (absent when `response.enabled` is false). */
  get response(): ResponseService {
    if (this.#response === undefined) throw new Error("platform not started or response disabled");
    return this.#response;
  }

  /** The streaming detector (absent when `detection.enabled` is false). */
  get detection(): DetectionService {
    if (this.#detection === undefined) throw new Error("platform not started or detection disabled");
    return this.#detection;
  }

  /** The MQTT gateway (absent when `mqtt.enabled` is false). */
  get gateway(): Gateway {
    if (this.#gateway === undefined) throw new Error("platform not started or MQTT gateway disabled");
    return this.#gateway;
  }

  /** This node's part of the cluster (inert with `cluster.transport: none`). */
  get cluster(): ClusterNode {
    if (this.#cluster === undefined) throw new Error("platform not started");
    return this.#cluster;
  }

  /** Where trust, detection and response send enforcement: every node's gateway when clustered. */
  #enforcement(): ClusterEnforcement | Gateway | undefined {
    return this.#cluster?.enforcement ?? this.#gateway;
  }

  get audit(): AuditLog {
    if (this.#audit === undefined) throw new Error("platform not started");
    return this.#audit;
  }

  async start(signal: AbortSignal = new AbortController().signal): Promise<void> {
    await this.#lifecycle.startAll(signal);
    this.bus.emit("platform.started", { version: VERSION, apiUrl: this.url });
    this.log.info({ url: this.url, dataDir: this.config.dataDir, version: VERSION }, "Vigil is ready");
  }

  async stop(reason = "stop requested"): Promise<void> {
    this.bus.emit("platform.stopping", { reason });
    await this.#lifecycle.stopAll();
  }

  #services(): Service[] {
    const config = this.config;
    const dataDir = config.dataDir;
    return [
      {
        name: "data-dir",
        start: async () => {
          if (config.http.plain && !LOOPBACK.test(config.http.host)) {
            throw new VigilError(
              "PLAIN_HTTP_NOT_LOOPBACK",
              `plain HTTP was asked for on ${config.http.host}, which is not a loopback address`,
              {
                hint: "Plain HTTP is for local testing only: use --http-host 127.0.0.1, or drop --http-plain to serve HTTPS.",
              },
            );
          }
          const { tightened } = await prepareDataDir(dataDir);
          if (tightened) this.log.warn({ dataDir }, "data directory was readable by others; its permissions were set to 0700");
          this.#lock = lockDataDir(dataDir);
        },
        stop: async () => {
          await removeDaemonInfo(dataDir).catch(() => undefined);
          this.#lock?.release();
        },
      },
      {
        name: "store",
        start: async () => {
          this.#store =
            config.store.engine === "postgres" && config.store.url !== undefined
              ? await openPostgresStore(
                  { url: config.store.url, passwordFile: config.store.passwordFile },
                  moduleLogger(this.log, "store"),
                )
              : openSqliteStore(join(dataDir, "vigil.db"), moduleLogger(this.log, "store"), {
                  synchronous: config.store.synchronous,
                });
        },
        stop: async () => {
          await this.#store?.close();
        },
      },
      {
        // The key vault: every private key at rest is sealed under the master key.
        name: "keys",
        start: async () => {
          const ring = await openMasterKeyRing(this.#masterKeyFile(), { create: config.keys.masterKeyFile === undefined });
          this.#masterKey = ring;
          this.#vault = new SealedFileVault(join(dataDir, "keys"), ring);
          this.#sealedFields = new SealedFields(ring, this.store.dataKeys, this.clock);
          if (ring.rotating) {
            // A rotation was interrupted: finish it before anything is unsealed.
            const result = await this.rotateMasterKey("system");
            this.log.warn({ masterKeyId: result.masterKeyId }, "an interrupted master key rotation was completed");
          }
        },
        stop: async () => undefined,
      },
      {
        // Right after the store and keys: it records every signal the services after it emit,
        // and stops (flushing, then signing a last checkpoint) after all of them.
        name: "audit",
        start: async (signal) => {
          const vault = this.#vault as KeyVault;
          this.#audit = new AuditLog({
            repository: this.store.audit,
            bus: this.bus,
            clock: this.clock,
            log: moduleLogger(this.log, "audit"),
            keys: vaultSigningKeyStore(vault, "audit-signing", join(dataDir, "keys", "audit-signing.pub.pem")),
            checkpointEvery: config.audit.checkpointEvery,
            enabled: config.audit.enabled,
            drills: this.drills,
          });
          await this.#audit.start(signal);
          // Drills survive a restart; on a shared store every node re-reads them every 2 s.
          if (this.store.drills !== undefined)
            await this.drills.load(this.store.drills, this.store.engine === "postgres" ? 2_000 : undefined);
        },
        stop: async () => {
          this.drills.stop();
          await this.#audit?.stop();
        },
      },
      {
        name: "signals",
        start: async () => {
          const counter = this.metrics.counter("vigil_signals_total", "Security signals emitted, by name.", ["signal"]);
          this.bus.onAny((name) => counter.inc({ signal: name }));
        },
        stop: async () => undefined,
      },
      {
        name: "pki",
        start: async () => {
          this.#ca = await CertificateAuthority.open(
            join(dataDir, "pki"),
            this.#vault as KeyVault,
            this.clock,
            moduleLogger(this.log, "pki"),
          );
        },
        stop: async () => undefined,
      },
      {
        name: "policy",
        start: async () => {
          this.#profiles = await loadDefaultProfiles();
        },
        stop: async () => undefined,
      },
      {
        name: "operators",
        start: async () => {
          const store = this.store;
          const passwordFile = join(dataDir, INITIAL_PASSWORD_FILE);
          const drop: InitialPasswordDrop = {
            write: (password) => writeFile(passwordFile, `${password}\n`, { mode: 0o600 }),
            remove: () => rm(passwordFile, { force: true }),
          };
          const sealed = this.sealedFields;
          this.#operators = new OperatorService({
            operators: store.operators,
            tokens: store.tokens,
            mfa: store.mfa,
            sessions: store.sessions,
            bus: this.bus,
            clock: this.clock,
            log: moduleLogger(this.log, "operators"),
            initialPassword: drop,
            tokenTtlMs: config.auth.tokenTtlSeconds * 1000,
            sessionTtlMs: config.auth.sessionTtlSeconds * 1000,
            sessionIdleMs: config.auth.sessionIdleSeconds * 1000,
            challengeTtlMs: config.auth.mfaChallengeSeconds * 1000,
            requireMfaForAuditors: config.auth.requireMfaForAuditors,
            throttle: {
              threshold: config.auth.lockoutThreshold,
              baseLockMs: config.auth.lockoutBaseSeconds * 1000,
              maxLockMs: config.auth.lockoutMaxSeconds * 1000,
              windowMs: 15 * 60_000,
              maxEntries: 10_000,
            },
            sealed: () => sealed.field("operator_mfa"),
            relyingParty: () => this.#relyingParty(),
          });
          this.#operatorAdmin = new OperatorAdmin({
            operators: store.operators,
            tokens: store.tokens,
            sessions: store.sessions,
            factors: this.#operators.factors,
            bus: this.bus,
            clock: this.clock,
          });
          this.#devices = new DeviceRegistry({ devices: store.devices, bus: this.bus, clock: this.clock });
          this.#identity = new IdentityService({
            ca: this.authority,
            devices: store.devices,
            certificates: store.certificates,
            bus: this.bus,
            clock: this.clock,
          });
          this.#enrollment = new EnrollmentService({
            ca: this.authority,
            devices: store.devices,
            certificates: store.certificates,
            manufacturers: store.manufacturers,
            tokens: store.enrollmentTokens,
            ledger: store.enrollments,
            bus: this.bus,
            clock: this.clock,
            log: moduleLogger(this.log, "enrollment"),
            deviceCertValidityDays: config.pki.deviceCertValidityDays,
            knownProfile: (id) => this.#profiles?.has(id) === true,
            readmissions: store.readmissions,
          });
          const created = await this.#operators.bootstrap();
          if (created) this.#options.onInitialPassword?.({ ...created, file: passwordFile });
        },
        stop: async () => undefined,
      },
      {
        // Before the services that enforce (their decisions reach every node's gateway).
        name: "cluster",
        start: async () => {
          this.#cluster = new ClusterNode({
            config: config.cluster,
            nodeId: config.cluster.nodeId ?? defaultNodeId(),
            mqttPersistence: config.mqtt.persistence,
            bus: this.bus,
            clock: this.clock,
            log: moduleLogger(this.log, "cluster"),
            sessions: () => this.#gateway,
          });
          await this.#cluster.start();
        },
        stop: async () => {
          await this.#cluster?.stop();
        },
      },
      {
        // Before the gateway (its TierSource) and after the store and profiles; tier changes
        // reach live sessions through the gateway once it has started.
        name: "trust",
        start: async () => {
          const profiles = this.#profiles;
          this.#trust = new TrustService({
            repository: this.store.trust,
            devices: this.store.devices,
            bus: this.bus,
            clock: this.clock,
            log: moduleLogger(this.log, "trust"),
            config: config.trust,
            profiles: (id) => profiles?.get(id),
            // A tier trust decides never lifts a device above an incident's mitigation.
            enforcer: () => {
              const enforcement = this.#enforcement();
              return enforcement && this.#response ? this.#response.guard(enforcement) : enforcement;
            },
            // Several nodes: time-driven changes of devices connected nowhere here are announced by one node.
            observeLease: this.#cluster?.clustered === true ? this.#cluster.lease("trust.observe") : undefined,
          });
          await this.#trust.start();
        },
        stop: async () => {
          await this.#trust?.stop();
        },
      },
      {
        // After identity (its CA, certificates, revocations) and before the API.
        name: "gateway",
        start: async () => {
          if (!config.mqtt.enabled || config.cluster.role === "control") return;
          const profiles = this.#profiles;
          const cluster = this.#cluster;
          this.#gateway = new Gateway({
            backends: await cluster?.backends(),
            settings: {
              ...config.mqtt,
              host: config.mqtt.host ?? config.http.host,
              port: config.mqtt.port ?? (config.http.port === 0 ? 0 : 8883),
            },
            ca: this.authority,
            devices: this.store.devices,
            certificates: this.store.certificates,
            bus: this.bus,
            clock: this.clock,
            log: moduleLogger(this.log, "gateway"),
            profiles: (id) => profiles?.get(id),
            legacyPasswords: this.legacyPasswords,
            tiers: this.#trust && {
              tierOf: (device) => {
                // The last tier decided anywhere in the cluster, when another node decided it.
                const decided = cluster?.enforcement?.decidedTier(device.id);
                if (decided !== undefined) return decided;
                const tier = (this.#trust as TrustService).tierOf(device);
                return this.#response?.floor(device.id, tier) ?? tier;
              },
            },
            observer: config.detection.enabled
              ? (device, topic, bytes, now, payload) =>
                  this.#detection === undefined || this.#detection.observe(device, topic, bytes, now, payload)
              : undefined,
          });
          await this.#gateway.start();
        },
        stop: async () => {
          await this.#gateway?.stop();
        },
      },
      {
        // After the gateway (its signals and its disconnect/quarantine ports) and before the API.
        name: "detection",
        start: async () => {
          if (!config.detection.enabled) return;
          this.#detection = new DetectionService({
            config: config.detection,
            bus: this.bus,
            clock: this.clock,
            log: moduleLogger(this.log, "detection"),
            enforcer: () => this.#enforcement(),
            envelope: (profile) => this.#profiles?.get(profile),
          });
          await this.#detection.start();
        },
        stop: async () => {
          await this.#detection?.stop();
        },
      },
      {
        // After the gateway (its live sessions feed a check) and before the API.
        name: "assessment",
        start: async () => {
          const ca = this.authority;
          const caView = (name: "root" | "issuing", cert: typeof ca.root) => ({
            name,
            subject: cert.subject.replace(/\n/g, ", "),
            notBefore: Date.parse(cert.validFrom) as Millis,
            notAfter: Date.parse(cert.validTo) as Millis,
          });
          const profiles = this.#profiles;
          this.#assessment = new AssessmentService({
            repository: this.store.assessment,
            devices: this.store.devices,
            certificates: this.store.certificates,
            tokens: this.store.enrollmentTokens,
            audit: this.store.audit,
            auditEnabled: config.audit.enabled,
            ca: () => [caView("root", ca.root), caView("issuing", ca.issuing)],
            profiles: () => profiles ?? new Map(),
            sessions: this.#gateway,
            bus: this.bus,
            clock: this.clock,
            log: moduleLogger(this.log, "assessment"),
            config: config.assessment,
            deviceCertValidityDays: config.pki.deviceCertValidityDays,
            mqttEnabled: config.mqtt.enabled,
            version: VERSION,
            vertical: () => (config.trust.vertical === "auto" ? undefined : config.trust.vertical),
            // Once per cluster: PostgreSQL's advisory lock, else the cluster's Redis lock.
            jobLock: this.store.engine === "postgres" ? this.store.jobs : this.#cluster?.jobLock,
          });
          await this.#assessment.start();
        },
        stop: async () => {
          await this.#assessment?.stop();
        },
      },
      {
        // After the gateway (the control channel that tells devices) and before the API.
        name: "ota",
        start: async () => {
          const profiles = this.#profiles;
          this.#updates = new UpdateRepository({
            repo: this.store.ota,
            vault: this.#vault as KeyVault,
            clock: this.clock,
            bus: this.bus,
            log: moduleLogger(this.log, "ota"),
            dir: join(dataDir, "ota"),
            settings: config.ota,
            knownProfile: (id) => profiles?.has(id) === true,
          });
          await this.#updates.start();
          const gateway = this.#gateway;
          const cluster = this.#cluster;
          const notifier: DeviceNotifier = this.#options.otaNotifier ?? {
            send: async (device, command) => {
              if (gateway === undefined) return { online: false };
              const sent = await gateway.sendCommand(device, command);
              // Routed through the cluster's MQTT routing: the device may be connected to another node.
              if (sent.online || cluster === undefined) return sent;
              return { online: (await cluster.online(device)) === true };
            },
            onAck: async (handler) =>
              gateway
                ? gateway.subscribe("vigil/+/ack", (topic, payload) => handler(topic.split("/")[1] as DeviceId, payload))
                : async () => undefined,
          };
          const trust = this.#trust;
          this.#campaigns = new CampaignService({
            repo: this.store.ota,
            artifacts: this.#updates,
            notifier,
            fleet: repositoryFleet(this.store.devices, trust ? { tierOf: (device) => trust.tierOf(device) } : {}),
            bus: this.bus,
            clock: this.clock,
            log: moduleLogger(this.log, "ota"),
            tickMs: config.ota.tickMs,
            // Several nodes: one runs the campaign engine, the holder of the `ota.campaigns` lease,
            // among the nodes that can tell devices (a gateway); the others pass their operators'
            // actions to it (docs/scale.md "Jobs that run once per cluster").
            ...(cluster?.clustered === true
              ? {
                  lease:
                    gateway !== undefined || this.#options.otaNotifier !== undefined
                      ? cluster.lease("ota.campaigns")
                      : { start: async () => undefined, stop: async () => undefined },
                  peers: cluster.campaignActions,
                }
              : {}),
          });
          await this.#campaigns.start();
        },
        stop: async () => {
          await this.#campaigns?.stop();
        },
      },
      {
        // After the gateway, identity and trust (its ports) and before the API.
        name: "response",
        start: async () => {
          if (!config.response.enabled) return;
          const store = this.store;
          const profiles = this.#profiles;
          const trust = this.#trust;
          this.#response = new ResponseService({
            repository: store.incidents,
            drills: this.drills,
            bus: this.bus,
            clock: this.clock,
            log: moduleLogger(this.log, "response"),
            settings: config.response,
            playbooks: await responsePlaybooks(config.response),
            profileOf: async (device) => (await store.devices.get(device))?.profile,
            profiles: (id) => profiles?.get(id),
            vertical: config.trust.vertical,
            sessions: () => this.#enforcement(),
            revoker: this.identity,
            naturalTier: async (device) => {
              const record = await store.devices.get(device);
              return record !== undefined && trust !== undefined ? trust.tierOf(record) : "standard";
            },
            readmitter: store.readmissions,
            reprovisionTokens: (device, ttlMs, by) => this.enrollment.reprovisionToken(device, ttlMs, by),
            control: () => (this.#gateway === undefined ? undefined : gatewayControlChannel(this.#gateway)),
            firmware: () => this.#campaigns,
            openVulnerabilities: (device) => trust?.openVulnerabilities(device) ?? 0,
            // Several nodes: timed releases and approval timeouts once per cluster, from the store.
            jobLock:
              this.#cluster?.clustered === true ? (store.engine === "postgres" ? store.jobs : this.#cluster.jobLock) : undefined,
            sinks: await responseSinks(config.response, {
              version: VERSION,
              deadLetters: store.deadLetters,
              bus: this.bus,
              clock: this.clock,
              log: moduleLogger(this.log, "response"),
            }),
          });
          await this.#response.start();
        },
        stop: async () => {
          await this.#response?.stop();
        },
      },
      {
        name: "api",
        start: async () => {
          const tlsDir = join(dataDir, "tls");
          if (!config.http.plain) {
            this.#tls =
              config.tls.cert !== undefined && config.tls.key !== undefined
                ? await loadApiTls(config.tls.cert, config.tls.key, config.tls.ca)
                : await ensureApiTls(tlsDir, this.authority, this.#vault as KeyVault, this.clock, {
                    names: isIP(config.http.host) === 0 ? [config.http.host] : [],
                    ips:
                      isIP(config.http.host) !== 0 && config.http.host !== "0.0.0.0" && config.http.host !== "::"
                        ? [config.http.host]
                        : [],
                  });
          }
          this.#api = await buildApi({
            log: moduleLogger(this.log, "api"),
            metrics: this.metrics,
            bus: this.bus,
            drills: this.drills,
            operators: this.operators,
            operatorAdmin: this.#operatorAdmin as OperatorAdmin,
            keyRotation: { rotate: (by) => this.rotateMasterKey(by) },
            sessionTtlSeconds: config.auth.sessionTtlSeconds,
            sessions: this.store.sessions,
            sessionIdleSeconds: config.auth.sessionIdleSeconds,
            views: {
              profiles: () => this.#profiles,
              findings: () => this.#detection?.findings() ?? [],
              gatewaySessions: () => this.#gateway?.sessions() ?? [],
              assets: (query) => this.#detection?.assets.list(query) ?? [],
            },
            devices: this.#devices as DeviceRegistry,
            trust: this.trust,
            response: this.#response,
            assessment: this.assessment,
            legacyPasswords: this.legacyPasswords,
            maxSbomBytes: config.assessment.maxSbomBytes,
            ota: {
              updates: this.updates,
              campaigns: this.campaigns,
              deviceRepository: this.store.devices,
              maxImageBytes: config.ota.maxImageBytes,
            },
            identity: this.identity,
            enrollment: this.enrollment,
            ca: this.authority,
            certificates: this.store.certificates,
            clock: this.clock,
            deviceCertValidityDays: config.pki.deviceCertValidityDays,
            audit: this.audit,
            platform: this.#status(),
            tls: this.#tls,
            bodyLimitBytes: config.http.bodyLimitBytes,
            version: VERSION,
          });
          try {
            await this.#api.listen({ host: config.http.host, port: config.http.port });
          } catch (error) {
            const code = (error as NodeJS.ErrnoException).code;
            if (code === "EADDRINUSE") {
              throw new VigilError(
                "PORT_IN_USE",
                `port ${config.http.port} on ${config.http.host} is already in use by another process`,
                {
                  cause: error,
                  hint: "Stop the other process, or choose another port with --http-port.",
                },
              );
            }
            if (code === "EADDRNOTAVAIL" || code === "EACCES") {
              throw new VigilError("PORT_IN_USE", `cannot listen on ${config.http.host}:${config.http.port} (${code})`, {
                cause: error,
                hint: "Choose an address of this machine with --http-host and a port above 1023 with --http-port.",
              });
            }
            throw error;
          }
          const address = this.#api.server.address() as AddressInfo;
          const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
          const shownHost = host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host;
          this.#url = `${config.http.plain ? "http" : "https"}://${shownHost}:${address.port}`;
          await writeDaemonInfo(dataDir, {
            pid: process.pid,
            url: this.#url,
            caFile: this.#tls?.caFile ?? "",
            version: VERSION,
            startedAt: this.startedAt.toISOString(),
          });
        },
        // fastify's close stops accepting, then waits for in-flight requests to finish.
        stop: async () => {
          await this.#api?.close();
        },
      },
    ];
  }

  #status(): PlatformStatus {
    return {
      ready: () => this.#lifecycle.ready(),
      services: () => this.#lifecycle.states(),
      startedAt: this.startedAt,
      dataDir: this.config.dataDir,
      store: async () => ({ engine: this.store.engine, schemaVersion: await this.store.schemaVersion() }),
      counts: async () => ({ devices: await this.store.devices.count(), operators: await this.store.operators.count() }),
    };
  }
}
