import assert from "node:assert/strict";
import { execFile, spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import type { DeviceCredentials } from "../../device-sdk/src/index.js";
import { startPlatform, tempDir, type TestPlatform } from "./support.js";
import { enrollDevice, recordSignals, waitFor } from "./gateway-support.js";

// Debian's mosquitto clients with a device certificate issued by Vigil: the gateway speaks
// plain MQTT 3.1.1 over mutual TLS, not an MQTT.js dialect.

const exec = promisify(execFile);
const hasClients = spawnSync("sh", ["-c", "command -v mosquitto_pub && command -v mosquitto_sub"]).status === 0;
if (!hasClients && process.env.CI === "true") throw new Error("CI must have mosquitto_pub and mosquitto_sub (see .ci/run)");
const skip = hasClients ? false : "mosquitto_pub/mosquitto_sub are not installed (apt-get install mosquitto-clients)";

let t: TestPlatform;
const dir = tempDir("vigil-gateway-mosquitto-");
let creds: DeviceCredentials;

before(async () => {
  if (!hasClients) return;
  t = await startPlatform();
  creds = await enrollDevice(t.platform, dir.path, "meter-mq", "smart-meter");
});
after(async () => {
  await t?.stop();
  dir.remove();
});

function tlsArgs(device: DeviceCredentials, clientId = device.deviceId): string[] {
  const home = join(dir.path, device.deviceId);
  return [
    "-h",
    "127.0.0.1",
    "-p",
    String(t.platform.gateway.port),
    "--cafile",
    join(home, "ca.pem"),
    "--cert",
    join(home, "device.pem"),
    "--key",
    join(home, "device.key"),
    "-i",
    clientId,
    "-V",
    "mqttv311",
  ];
}

test(
  "mosquitto_pub publishes telemetry and mosquitto_sub receives a command, with a Vigil device certificate",
  { skip },
  async () => {
    const received: string[] = [];
    const unsubscribe = await t.platform.gateway.subscribe("devices/meter-mq/telemetry", (_topic, payload) =>
      received.push(payload.toString()),
    );
    try {
      await exec("mosquitto_pub", [...tlsArgs(creds), "-t", "devices/meter-mq/telemetry", "-m", '{"kwh":12.5}', "-q", "1"], {
        timeout: 15_000,
      });
      await waitFor(() => received.length === 1, 5_000, "telemetry");
      assert.equal(received[0], '{"kwh":12.5}');

      const sub = spawn("mosquitto_sub", [...tlsArgs(creds), "-t", "vigil/meter-mq/cmd", "-q", "1", "-C", "1", "-W", "15"], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      sub.stdout.on("data", (c: Buffer) => (output += c.toString()));
      const exited = new Promise<number | null>((resolve) => sub.once("exit", (code) => resolve(code)));
      await waitFor(() => t.platform.gateway.isConnected("meter-mq"), 10_000, "mosquitto_sub to connect");
      // Its SUBSCRIBE may still be in flight: resend until it lands (bounded).
      for (let i = 0; i < 50 && output === ""; i++) {
        await t.platform.gateway.sendCommand("meter-mq", "read-now", { qos: 1 });
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(await exited, 0);
      assert.equal(output.trim(), "read-now");
    } finally {
      await unsubscribe();
    }
  },
);

test("mosquitto_pub with a client id that is not the certificate's is refused (identifier rejected)", { skip }, async () => {
  const signals = recordSignals(t.platform, ["gateway.connect_refused"]);
  try {
    const result = await exec(
      "mosquitto_pub",
      [...tlsArgs(creds, "someone-else"), "-t", "devices/meter-mq/telemetry", "-m", "x"],
      { timeout: 15_000 },
    ).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => e,
    );
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /identifier rejected/i);
    assert.equal(signals.of("gateway.connect_refused").at(-1)?.reason, "client_id_mismatch");
  } finally {
    signals.stop();
  }
});
