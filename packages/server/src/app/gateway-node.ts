import { cp, mkdir } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { InProcessBus, moduleLogger, systemClock, type Clock, type Logger } from "../core/index.js";
import { ClusterNode, type ClusterConfig } from "../cluster/index.js";
import { DefaultTierSource, Gateway, MQTT_DEFAULTS, type ProfileSource } from "../gateway/index.js";
import { CertificateAuthority, SealedFileVault, openMasterKeyRing } from "../identity/index.js";
import { loadDefaultProfiles } from "../policy/index.js";
import type { SignalMap } from "../signals/index.js";
import { openPostgresStore, openSqliteStore, type Store } from "../store/index.js";

/**
 * How a node gets the cluster's CA and master key (docs/scale.md "Keys"): the sealed key
 * files (`keys/`, sealed under the master key) and the CA certificates (`pki/`) are copied
 * from a node of the cluster into the new node's data directory before its first start;
 * the master key itself is given by path (`keys.masterKeyFile`, e.g. a secret mount), or
 * copied too when `withMasterKey`. Nothing is re-keyed: every node verifies and issues
 * device certificates under the same issuing CA.
 */
export async function joinCluster(from: string, to: string, options: { withMasterKey?: boolean } = {}): Promise<void> {
  if (existsSync(join(to, "pki", "issuing.pem"))) {
    throw new Error(`${to} already has a CA of its own: join only a fresh data directory`);
  }
  await mkdir(to, { recursive: true, mode: 0o700 });
  await cp(join(from, "pki"), join(to, "pki"), { recursive: true });
  await cp(join(from, "keys"), join(to, "keys"), {
    recursive: true,
    filter: (source) => options.withMasterKey === true || !/master\.key(\.next)?$/.test(source),
  });
}

export interface GatewayNodeOptions {
  /** A data directory holding the cluster's `keys/` and `pki/` (see `joinCluster`). */
  readonly dataDir: string;
  /** The cluster's shared store. */
  readonly store: Store | { readonly sqliteFile: string } | { readonly postgresUrl: string };
  readonly cluster: ClusterConfig & { readonly nodeId: string };
  readonly host?: string;
  readonly port?: number;
  /** Backend consumers allowed to subscribe across devices (`GatewayDeps.services`). */
  readonly services?: ReadonlyMap<string, readonly string[]>;
  /** The profiles devices name (default: the built-in ones); benchmarks give a generous one. */
  readonly profiles?: ProfileSource;
  readonly log: Logger;
  readonly clock?: Clock;
}

/**
 * A gateway-only node: the MQTT gateway of `vigil up --role gateway` without the API and
 * the domain services, for benchmarks and for tests that kill a node with SIGKILL. It shares
 * the cluster's store, CA, MQTT routing and sessions, and applies the decisions of the
 * other nodes (quarantine, tier, disconnect, revocation) to its sessions.
 */
export class GatewayNode {
  readonly bus: InProcessBus<SignalMap>;
  readonly #options: GatewayNodeOptions;
  #store: Store | undefined;
  #ownsStore = false;
  #gateway: Gateway | undefined;
  #cluster: ClusterNode | undefined;

  constructor(options: GatewayNodeOptions) {
    this.#options = options;
    this.bus = new InProcessBus<SignalMap>(moduleLogger(options.log, "signals"));
  }

  get gateway(): Gateway {
    if (this.#gateway === undefined) throw new Error("gateway node not started");
    return this.#gateway;
  }

  get cluster(): ClusterNode {
    if (this.#cluster === undefined) throw new Error("gateway node not started");
    return this.#cluster;
  }

  async start(): Promise<void> {
    const { dataDir, log } = this.#options;
    const clock = this.#options.clock ?? systemClock;
    const given = this.#options.store;
    if ("sqliteFile" in given) {
      // One machine only (tests): the control node's SQLite file, read through WAL.
      this.#store = openSqliteStore(given.sqliteFile, moduleLogger(log, "store"), { synchronous: "normal" });
      this.#ownsStore = true;
    } else if ("postgresUrl" in given) {
      this.#store = await openPostgresStore({ url: given.postgresUrl }, moduleLogger(log, "store"));
      this.#ownsStore = true;
    } else {
      this.#store = given;
    }
    const store = this.#store;
    const ring = await openMasterKeyRing(join(dataDir, "keys", "master.key"), { create: false });
    const vault = new SealedFileVault(join(dataDir, "keys"), ring);
    const ca = await CertificateAuthority.open(join(dataDir, "pki"), vault, clock, moduleLogger(log, "pki"));
    const profiles = await loadDefaultProfiles();
    const cluster = new ClusterNode({
      config: this.#options.cluster,
      nodeId: this.#options.cluster.nodeId,
      mqttPersistence: "redis",
      bus: this.bus,
      clock,
      log: moduleLogger(log, "cluster"),
      sessions: () => this.#gateway,
    });
    this.#cluster = cluster;
    await cluster.start();
    const tiers = new DefaultTierSource();
    this.#gateway = new Gateway({
      settings: { ...MQTT_DEFAULTS, host: this.#options.host ?? "127.0.0.1", port: this.#options.port ?? 0 },
      ca,
      devices: store.devices,
      certificates: store.certificates,
      bus: this.bus,
      clock,
      log: moduleLogger(log, "gateway"),
      profiles: this.#options.profiles ?? ((id) => profiles.get(id)),
      tiers: { tierOf: (device) => cluster.enforcement?.decidedTier(device.id) ?? tiers.tierOf(device) },
      backends: await cluster.backends(),
      ...(this.#options.services !== undefined ? { services: this.#options.services } : {}),
    });
    await this.#gateway.start();
  }

  async stop(): Promise<void> {
    await this.#gateway?.stop();
    await this.#cluster?.stop();
    if (this.#ownsStore) await this.#store?.close();
  }
}
