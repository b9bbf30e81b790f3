import type { Command } from "commander";
import { readFile } from "node:fs/promises";
import { callApi, type ApiTarget } from "./client.js";

/** What the legacy-device commands need from the CLI's main file. */
export interface LegacyCliContext {
  api(dataDir?: string): Promise<ApiTarget>;
  json(): boolean;
}

const dataDirOpt = ["--data-dir <dir>", "data directory of a local Vigil (to find its URL and CA)"] as const;

/**
 * `vigil devices set-password ID --password-file F`: the MQTT password of a legacy device
 * (no certificate). Read from a file, never from the command line (shell history, `ps`).
 */
export function registerLegacyCommands(program: Command, ctx: LegacyCliContext): void {
  const devices = program.commands.find((c) => c.name() === "devices");
  if (devices === undefined) throw new Error("the devices command must be registered first");
  devices
    .command("set-password <id>")
    .description(
      "Set a legacy device's MQTT password (username = client id = device id, TLS without a client certificate, when mqtt.legacyPasswordAuth is on). The device is marked legacy (lower trust).",
    )
    .requiredOption(
      "--password-file <file>",
      "file holding the password (16 to 1024 characters; one trailing newline is ignored)",
    )
    .option(...dataDirOpt)
    .action(async (id: string, o: { passwordFile: string; dataDir?: string }) => {
      const password = (await readFile(o.passwordFile, "utf8")).replace(/\r?\n$/, "");
      const { data } = await callApi<{ device: string; setAt: string }>(
        await ctx.api(o.dataDir),
        "POST",
        `/api/v1/devices/${encodeURIComponent(id)}/legacy-password`,
        { password },
      );
      if (ctx.json()) process.stdout.write(`${JSON.stringify(data)}\n`);
      else process.stdout.write(`MQTT password of ${data.device} set at ${data.setAt}; the device is marked legacy.\n`);
    });
}
