// The simulated fleet of `npm run bench -- ota`, in its own process (so that the server's CPU
// and memory are measured alone). Each device is the real device SDK's OtaAgent with its own
// credentials: on an `update` command (received over IPC, standing in for the MQTT control
// channel) it fetches and verifies the TUF metadata, downloads the image over HTTPS with its
// device certificate (mutual TLS) — resuming with a range request when it starts from an
// interrupted download — checks length and SHA-256, installs into simulated A/B slots and
// reports each state back over IPC (standing in for the ack topic).
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { OtaCommand, OtaReport } from "@vigil/contract";
import { OtaAgent, type FirmwareSlots } from "../../packages/device-sdk/src/index.js";

interface Setup {
  readonly server: string;
  readonly dir: string;
  readonly caPem: string;
  readonly devices: { id: string; certPem: string; keyPem: string }[];
  readonly concurrency: number;
  /** Every n-th device starts with a partial download (as after a power cut). */
  readonly resumeEvery: number;
  readonly partial: { sha256: string; bytes: string } | null;
}

const send = (message: unknown) => process.send?.(message);

class Slots implements FirmwareSlots {
  active = 0;
  async write(): Promise<void> {}
  async activate(): Promise<boolean> {
    this.active ^= 1;
    return true;
  }
  async revert(): Promise<void> {
    this.active ^= 1;
  }
}

async function main(setup: Setup): Promise<void> {
  const agents = new Map<string, OtaAgent>();
  const partial = setup.partial === null ? null : Buffer.from(setup.partial.bytes, "base64");
  let i = 0;
  for (const d of setup.devices) {
    const dir = join(setup.dir, d.id);
    await mkdir(join(dir, "ota"), { recursive: true, mode: 0o700 });
    await writeFile(join(dir, "device.key"), d.keyPem, { mode: 0o600 });
    await writeFile(join(dir, "device.pem"), d.certPem);
    await writeFile(join(dir, "ca.pem"), setup.caPem);
    if (partial !== null && setup.partial !== null && i++ % setup.resumeEvery === 0) {
      await writeFile(join(dir, "ota", `${setup.partial.sha256}.part`), partial);
    }
  }
  // Root v1 is fetched once and given to every device as its provisioned trust anchor.
  const first = setup.devices[0];
  if (first === undefined) throw new Error("no devices");
  await OtaAgent.open({
    server: setup.server,
    dir: join(setup.dir, first.id),
    profile: "p",
    hardware: "sim",
    currentVersion: "1.0.0",
    slots: new Slots(),
  });
  const root = (JSON.parse(await readFile(join(setup.dir, first.id, "ota-state.json"), "utf8")) as { root: unknown })
    .root as never;
  for (const d of setup.devices) {
    agents.set(
      d.id,
      await OtaAgent.open({
        server: setup.server,
        dir: join(setup.dir, d.id),
        profile: "smart-meter",
        hardware: "sim",
        currentVersion: "1.0.0",
        trustedRoot: root,
        slots: new Slots(),
        report: async (report: OtaReport) => void send({ kind: "ack", device: d.id, report }),
      }),
    );
  }
  send({ kind: "ready" });

  // Commands are queued and run `concurrency` at a time (devices are independent machines;
  // this bounds the simulator, not Vigil).
  const queue: { device: string; command: OtaCommand }[] = [];
  let running = 0;
  let resumed = 0;
  const pump = () => {
    while (running < setup.concurrency && queue.length > 0) {
      const next = queue.shift() as { device: string; command: OtaCommand };
      const agent = agents.get(next.device);
      if (agent === undefined) continue;
      running++;
      void agent
        .handle(next.command)
        .catch((error: unknown) => send({ kind: "error", device: next.device, message: String(error) }))
        .finally(() => {
          running--;
          pump();
        });
    }
  };
  process.on("message", (message: { kind: string; device?: string; command?: OtaCommand }) => {
    if (message.kind === "command" && message.device !== undefined && message.command !== undefined) {
      queue.push({ device: message.device, command: message.command });
      pump();
    } else if (message.kind === "stop") {
      send({ kind: "stopped", resumed });
      process.exit(0);
    }
  });
  resumed = partial === null ? 0 : Math.ceil(setup.devices.length / setup.resumeEvery);
}

process.once("message", (setup: Setup) => {
  main(setup).catch((error: unknown) => {
    send({ kind: "fatal", message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    process.exit(1);
  });
});
