import type { Platform } from "../app/index.js";

/**
 * The Vigil a simulated fleet talks to: its EST/API base URL, the root CA devices are
 * provisioned with, the MQTT gateway, and a way to mint claim tokens (an operator's job).
 */
export interface SimTarget {
  readonly apiUrl: string;
  readonly caPem: string;
  readonly mqttUrl: string;
  createTokens(profile: string, count: number): Promise<string[]>;
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
  };
}

/** The gateway's URL when only the API's is known: same host, port 8883 (the default). */
export function defaultMqttUrl(apiUrl: string, port = 8883): string {
  const url = new URL(apiUrl);
  return `mqtts://${url.hostname}:${port}`;
}
