import type { Platform } from "../app/index.js";
import { analyzeCapture } from "../network/index.js";

/**
 * The Vigil a simulated fleet talks to: its EST/API base URL, the root CA devices are
 * provisioned with, the MQTT gateway, and a way to mint claim tokens (an operator's job).
 */
export interface SimTarget {
  readonly apiUrl: string;
  readonly caPem: string;
  readonly mqttUrl: string;
  createTokens(profile: string, count: number): Promise<string[]>;
  /** Access to Vigil's update repository (in-process only): the firmware scenarios need it. */
  readonly ota?: SimOtaAccess;
  /**
   * Vigil's packet analysis fed with a capture of the site network (what a span-port sensor
   * running `vigil net watch -` does); resolves with the alerts. In-process only.
   */
  /**
   * Feeds a capture to the target's packet analysis. `holder`: the device that holds an address
   * in the capture, as the site's DHCP lease table would tell Vigil.
   */
  readonly analyzeCapture?: (
    file: string,
    trainPackets: number,
    holder?: { address: string; device: string },
  ) => Promise<{ src: string; dst: string; maxScore: number }[]>;
}

/**
 * What the firmware scenarios do to Vigil's updates: publish signed releases as an operator
 * would, and reach the stored image files as an attacker with the image store's disk would.
 */
export interface SimOtaAccess {
  /** Publishes a signed release (creating the OTA signing keys when there are none); returns its name. */
  release(profile: string, version: string, image: Buffer): Promise<string>;
  /** The stored file of a release's image. */
  imageFile(name: string): Promise<string>;
  /** Creates and starts a campaign of `artifact` to these devices; returns its id. */
  campaign(artifact: string, devices: readonly string[]): Promise<string>;
  /** Cancels a campaign if it is still active. */
  cancel(id: string): Promise<void>;
}

/** Claim tokens are created at most this many per request (the API's limit is higher). */
export const TOKENS_PER_REQUEST = 500;

/** An in-process Vigil: tokens straight from its enrollment service (as an operator would get them). */
export function platformTarget(platform: Platform, by = "simulator"): SimTarget {
  return {
    apiUrl: platform.url,
    caPem: platform.ca,
    mqttUrl: platform.gateway.url,
    async createTokens(profile, count) {
      const tokens: string[] = [];
      for (let left = count; left > 0; left -= TOKENS_PER_REQUEST) {
        const batch = await platform.enrollment.createTokens({
          profile,
          ttlSeconds: 3_600,
          count: Math.min(left, TOKENS_PER_REQUEST),
          by,
        });
        tokens.push(...batch.tokens);
      }
      return tokens;
    },
    async analyzeCapture(file, trainPackets, holder) {
      if (holder !== undefined && platform.config.detection.enabled)
        platform.detection.network.bind(holder.address, holder.device);
      const result = await analyzeCapture(file, { trainPackets, signals: platform.bus, source: "simulator" });
      return result.alerts.map((a) => ({ src: a.src, dst: a.dst, maxScore: a.maxScore }));
    },
    ota: {
      async release(profile, version, image) {
        const hasKeys = await platform.updates.keysInfo().then(
          () => true,
          () => false,
        );
        if (!hasKeys) await platform.updates.keysInit("ed25519", by).catch(() => undefined);
        return (await platform.updates.addArtifact(image, { profile, version }, by)).name;
      },
      async imageFile(name) {
        return platform.updates.imagePath(await platform.updates.getArtifact(name));
      },
      async campaign(artifact, devices) {
        const created = await platform.campaigns.create(
          {
            name: `sim ${artifact}`,
            artifact,
            target: { devices: [...devices] },
            canaryPercent: 100,
            wavePercent: 100,
            failureThresholdPercent: 100,
            deviceTimeoutSeconds: 60,
          },
          by,
        );
        await platform.campaigns.startCampaign(created.id, by);
        return created.id;
      },
      async cancel(id) {
        await platform.campaigns.cancel(id, by).catch(() => undefined);
      },
    },
  };
}

/** The gateway's URL when only the API's is known: same host, port 8883 (the default). */
export function defaultMqttUrl(apiUrl: string, port = 8883): string {
  const url = new URL(apiUrl);
  return `mqtts://${url.hostname}:${port}`;
}
