import type { Command } from "commander";
import type { CreateOperatorResponse, KeyRotationResponse, OperatorDto, OperatorListResponse } from "@vigil/contract";
import { callApi, type ApiTarget } from "./client.js";
import { printPairs, printTable } from "./output.js";

/** What the operator commands need from the CLI's main file. */
export interface OperatorCliContext {
  api(dataDir?: string): Promise<ApiTarget>;
  json(): boolean;
}

const row = (o: OperatorDto) => ({
  username: o.username,
  role: o.role,
  sites: o.sites.join(","),
  state: o.disabled ? "disabled" : o.mustChangePassword ? "first-login" : "active",
  mfa: [o.mfa.totp ? "totp" : null, o.mfa.webauthn > 0 ? `webauthn(${o.mfa.webauthn})` : null].filter(Boolean).join("+") || "-",
  recoveryCodes: o.mfa.recoveryCodesLeft,
});

/** `vigil operators ...` (admin) and `vigil keys rotate`. */
export function registerOperatorCommands(program: Command, ctx: OperatorCliContext): void {
  const print = (value: unknown, human: () => string) =>
    process.stdout.write(`${ctx.json() ? JSON.stringify(value, null, 2) : human()}\n`);
  const dataDir = "--data-dir <dir>";
  const dataDirHelp = "data directory of a local Vigil (to find its URL and CA)";

  const operators = program.command("operators").description("Manage operator accounts (admin).");
  operators
    .command("list")
    .description("List operators with role, sites and second factors.")
    .option(dataDir, dataDirHelp)
    .action(async (o: { dataDir?: string }) => {
      const { data } = await callApi<OperatorListResponse>(await ctx.api(o.dataDir), "GET", "/api/v1/operators");
      print(data.items, () => printTable(data.items.map(row), ["username", "role", "sites", "state", "mfa", "recoveryCodes"]));
    });

  operators
    .command("create <username>")
    .description("Create an operator; prints its one-time password (it changes it and enrols TOTP at first login).")
    .requiredOption("--role <role>", "admin, security-operator, fleet-operator, auditor or device-integrator")
    .option("--sites <list>", "comma-separated sites it may see (* for every site)", "*")
    .option(dataDir, dataDirHelp)
    .action(async (username: string, o: { role: string; sites: string; dataDir?: string }) => {
      const { data } = await callApi<CreateOperatorResponse>(await ctx.api(o.dataDir), "POST", "/api/v1/operators", {
        username,
        role: o.role,
        sites: o.sites.split(",").map((s) => s.trim()),
      });
      print(data, () =>
        [
          `Created ${data.operator.username} (${data.operator.role}, sites ${data.operator.sites.join(",")}).`,
          `One-time password (shown once): ${data.oneTimePassword}`,
          `They log in with \`vigil login -u ${data.operator.username}\`, choose a password and enrol TOTP.`,
        ].join("\n"),
      );
    });

  for (const [action, verb] of [
    ["disable", "Disabled"],
    ["enable", "Enabled"],
    ["reset-mfa", "Reset the second factors of"],
  ] as const) {
    operators
      .command(`${action} <username>`)
      .description(
        action === "disable"
          ? "Disable an operator; its tokens and sessions end at once."
          : action === "enable"
            ? "Enable a disabled operator."
            : "Remove an operator's second factors and recovery codes; it enrols again at its next login.",
      )
      .option(dataDir, dataDirHelp)
      .action(async (username: string, o: { dataDir?: string }) => {
        const { data } = await callApi<OperatorDto>(
          await ctx.api(o.dataDir),
          "POST",
          `/api/v1/operators/${encodeURIComponent(username)}/${action}`,
        );
        print(data, () => `${verb} ${data.username}.`);
      });
  }

  program
    .command("keys")
    .description("Key management.")
    .command("rotate")
    .description(
      "Rotate the master key of the running Vigil without downtime: every sealed key and data key is re-wrapped under a new master key, which then replaces the old one.",
    )
    .option(dataDir, dataDirHelp)
    .action(async (o: { dataDir?: string }) => {
      const { data } = await callApi<KeyRotationResponse>(await ctx.api(o.dataDir), "POST", "/api/v1/keys/rotate");
      print(data, () =>
        printPairs([
          ["master key", `${data.masterKeyId} (was ${data.previousMasterKeyId})`],
          ["vault items re-wrapped", data.vaultItems],
          ["data keys re-wrapped", data.dataKeys],
        ]),
      );
    });
}
