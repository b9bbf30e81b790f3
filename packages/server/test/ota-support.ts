import { randomBytes } from "node:crypto";
import { request } from "node:https";
import { createServer, connect as netConnect, type Server, type Socket } from "node:net";
import { join } from "node:path";
import type { OtaArtifactDto, OtaReport } from "@vigil/contract";
import { enroll, type DeviceCredentials, type FirmwareSlots } from "../../device-sdk/src/index.js";
import type { Platform } from "../src/app/index.js";
import type { ApiTarget } from "../src/cli/client.js";
import { uploadBytes } from "../src/cli/ota-commands.js";

/** Enrolls a device over EST with a claim token, declaring its running firmware. */
export async function enrollWithFirmware(
  platform: Platform,
  dir: string,
  deviceId: string,
  profile: string,
  firmwareVersion = "1.0.0",
): Promise<DeviceCredentials> {
  const { tokens } = await platform.enrollment.createTokens({ profile, ttlSeconds: 600, count: 1, by: "test" });
  return enroll({
    server: platform.url,
    caPem: platform.ca,
    deviceId,
    dir: join(dir, deviceId),
    attestation: { kind: "claim-token", token: tokens[0]! },
    posture: { firmwareVersion, profile },
  });
}

/** Uploads a firmware image through the operator API, as `vigil ota artifact add` does. */
export async function addArtifact(admin: ApiTarget, image: Buffer, manifest: Record<string, string>): Promise<OtaArtifactDto> {
  const query = new URLSearchParams(manifest).toString();
  return (await uploadBytes<OtaArtifactDto>(admin, `/api/v1/ota/artifacts?${query}`, image)).data;
}

export function firmwareImage(bytes = 96 * 1024): Buffer {
  return randomBytes(bytes);
}

/**
 * A simulated A/B device: two slots, the active one runs. `activate()` boots the inactive
 * slot and runs the boot check (which fails when `healthy` says so); `revert()` goes back.
 */
export class SimulatedSlots implements FirmwareSlots {
  readonly slots: Record<"A" | "B", string | null>;
  active: "A" | "B" = "A";
  healthy: () => boolean;
  writes = 0;

  constructor(running: string, healthy: () => boolean = () => true) {
    this.slots = { A: running, B: null };
    this.healthy = healthy;
  }

  get running(): string | null {
    return this.slots[this.active];
  }

  async write(image: Buffer, target: { name: string; version: string }): Promise<void> {
    if (image.length === 0) throw new Error("empty image");
    this.writes++;
    this.slots[this.active === "A" ? "B" : "A"] = target.version;
  }

  async activate(): Promise<boolean> {
    this.active = this.active === "A" ? "B" : "A";
    return this.healthy();
  }

  async revert(): Promise<void> {
    this.active = this.active === "A" ? "B" : "A";
  }
}

/** Collects the reports an agent sends. */
export function reportLog() {
  const reports: OtaReport[] = [];
  return { reports, report: async (r: OtaReport) => void reports.push(r), states: () => reports.map((r) => r.state) };
}

/**
 * A TCP relay in front of the HTTPS API (TLS passes through untouched, so mutual TLS still
 * reaches Vigil) that cuts the first `cutConnections` connections after `cutAfter` bytes
 * from the server: an interrupted download.
 */
export async function cuttingRelay(target: { host: string; port: number }, cutAfter: number, cutConnections = 1) {
  let connections = 0;
  let relayed = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const n = ++connections;
    const upstream = netConnect(target.port, target.host);
    sockets.add(client).add(upstream);
    let sent = 0;
    client.on("data", (c: Buffer) => upstream.write(c));
    upstream.on("data", (c: Buffer) => {
      if (n <= cutConnections && sent + c.length > cutAfter) {
        client.write(c.subarray(0, Math.max(0, cutAfter - sent)));
        relayed += Math.max(0, cutAfter - sent);
        client.destroy();
        upstream.destroy();
        return;
      }
      sent += c.length;
      relayed += c.length;
      client.write(c);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as { port: number }).port}`,
    connections: () => connections,
    bytesFromServer: () => relayed,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A GET with optional client certificate; resolves status, headers, body. */
export function httpsGet(
  url: string,
  options: { ca: string; cert?: string; key?: string; headers?: Record<string, string> },
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        ca: options.ca,
        cert: options.cert,
        key: options.key,
        servername: "",
        agent: false,
        headers: options.headers ?? {},
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}
