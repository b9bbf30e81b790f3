import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test, type TestContext } from "node:test";
import type { MqttClient } from "mqtt";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import type { DeviceCredentials } from "../../device-sdk/src/index.js";
import { totpCode } from "../src/identity/index.js";
import { repoRoot, startPlatform, tempDir, type TestPlatform } from "./support.js";
import { connectDevice, enrollDevice, recordSignals, waitFor } from "./gateway-support.js";

// The web console end to end: Debian's Chromium (driven by playwright-core, never a
// downloaded browser) against a real Vigil: login with TOTP, a device enrolling over EST and
// connecting over mutual TLS appearing live, an attack blocked and its incident, releasing
// the quarantine, downloading the compliance report. Each test saves a screenshot.

const CHROMIUM = "/usr/bin/chromium";
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/** Screenshots go here (gitignored). */
const SHOTS = join(repoRoot, "test-output", "console");
const missing = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is not installed (apt-get install chromium)`;

function needBrowser(t: TestContext): boolean {
  if (missing === undefined) return true;
  if (process.env.CI === "true") assert.fail(`CI must have Chromium: ${missing}`);
  t.skip(missing);
  return false;
}

let vigil: TestPlatform;
let context: BrowserContext;
let page: Page;
const dir = tempDir("vigil-console-e2e-");
const devices: MqttClient[] = [];
let cam: DeviceCredentials;

before(async () => {
  if (missing !== undefined) return;
  mkdirSync(SHOTS, { recursive: true });
  // Build the console from its sources, so that the test never runs a stale build.
  execFileSync(process.execPath, [join(repoRoot, "node_modules/vite/bin/vite.js"), "build", "--logLevel", "error"], {
    cwd: join(repoRoot, "packages/console"),
    stdio: "inherit",
  });
  vigil = await startPlatform({ flags: { "response-tick-ms": "60000" } });
  context = await chromium.launchPersistentContext(join(dir.path, "profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    // The API's certificate is signed by this Vigil's own CA; the browser is told to accept it.
    ignoreHTTPSErrors: true,
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
  });
  page = context.pages()[0] ?? (await context.newPage());
});

after(async () => {
  for (const d of devices) d.end(true);
  await context?.close();
  await vigil?.stop();
  dir.remove();
});

const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
const nav = (label: string) => page.getByRole("navigation").getByRole("link", { name: label, exact: true }).click();

test("log in with name, password and TOTP code in the browser", async (t) => {
  if (!needBrowser(t)) return;
  await page.goto(`${vigil.platform.url}/`);
  await page.getByLabel("Operator name").fill("admin");
  await page.getByLabel("Password").fill(vigil.adminPassword);
  await page.getByLabel("Authenticator code (or a recovery code)").fill("000000");
  await page.getByRole("button", { name: "Log in" }).click();
  // A wrong code is refused in plain words; the right one opens the console.
  await page.getByRole("alert").waitFor();
  assert.match((await page.getByRole("alert").textContent()) ?? "", /code|factor/i);
  await page.getByLabel("Authenticator code (or a recovery code)").fill(await vigil.totp());
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  assert.equal(new URL(page.url()).pathname, "/console/");
  await page.getByText("● live").waitFor();
  // Keyboard: the first Tab reaches the skip link, which moves the focus to the page's content.
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate("document.activeElement.textContent"), "Skip to content");
  await page.keyboard.press("Enter");
  assert.equal(await page.evaluate("document.activeElement.id"), "main");
  await shot("1-logged-in");
});

test("a device enrolls over EST, connects over mutual TLS and appears on the devices page without a reload", async (t) => {
  if (!needBrowser(t)) return;
  await nav("Devices");
  await page.getByRole("heading", { name: "Devices" }).waitFor();
  let reloads = 0;
  page.on("framenavigated", () => reloads++);
  cam = await enrollDevice(vigil.platform, dir.path, "cam-e2e", "ip-camera");
  const row = page.locator('tr[data-device="cam-e2e"]');
  await row.waitFor({ timeout: 10_000 });
  devices.push(await connectDevice(vigil.platform.gateway.url, cam));
  await row.getByText(/online/).waitFor({ timeout: 10_000 });
  assert.equal(reloads, 0, "the page was not reloaded");
  await row.getByRole("link", { name: "cam-e2e" }).click();
  await page.getByRole("heading", { name: "Device cam-e2e" }).waitFor();
  await page.getByText("Why: every factor, its weight and contribution").waitFor();
  await shot("2-device-enrolled");
  await nav("Overview");
  await page.getByText("cam-e2e connected").first().waitFor({ timeout: 10_000 });
  await page.waitForTimeout(500);
  await shot("overview");
});

test("lateral movement is blocked and opens an incident, shown on the incidents page", async (t) => {
  if (!needBrowser(t)) return;
  await nav("Incidents");
  await page.getByRole("heading", { name: "Incidents" }).waitFor();
  const attacker = devices[0]!;
  const signals = recordSignals(vigil.platform, ["gateway.denied"]);
  // Another device's command topic: the gateway refuses it (SUBACK 0x80) and detection raises lateral movement.
  attacker.subscribe("vigil/pump-7/cmd", { qos: 1 }, () => undefined);
  await waitFor(
    () => signals.of("gateway.denied").some((d) => d.device === "cam-e2e" && d.reason === "cross_device_topic"),
    5_000,
    "the subscription to be denied",
  );
  const row = page.locator("tr[data-incident]", { hasText: "cam-e2e" });
  await row.waitFor({ timeout: 10_000 });
  await row.getByText("lateral_movement").waitFor();
  await row.getByText(/quarantine/).waitFor({ timeout: 10_000 });
  await shot("3-incident-open");
});

test("releasing the quarantine from the incident page gives the device its tier back", async (t) => {
  if (!needBrowser(t)) return;
  const gatewayTier = () => vigil.platform.gateway.policyOf("cam-e2e")?.tier;
  assert.equal(gatewayTier(), "quarantine");
  const row = page.locator("tr[data-incident]", { hasText: "cam-e2e" });
  await row.getByRole("link").first().click();
  await page.getByRole("heading", { name: /^Incident / }).waitFor();
  const incidentUrl = page.url();
  // The device page shows the tier in force at the gateway: quarantined by the incident.
  await page.getByRole("link", { name: "cam-e2e" }).first().click();
  const atGateway = page.locator("p", { hasText: "At the gateway:" });
  await atGateway.locator(".badge", { hasText: "quarantine" }).waitFor({ timeout: 10_000 });
  await page.goto(incidentUrl);
  await page.getByRole("button", { name: "Release quarantine" }).click();
  await page.getByText("No mitigation in force.").waitFor({ timeout: 10_000 });
  await waitFor(() => gatewayTier() !== "quarantine", 5_000, "the tier change at the gateway");
  await shot("4a-released");
  await page.getByRole("link", { name: "cam-e2e" }).first().click();
  await page.getByRole("heading", { name: "Device cam-e2e" }).waitFor();
  await atGateway.locator(".badge", { hasText: String(gatewayTier()) }).waitFor({ timeout: 10_000 });
  assert.equal(await atGateway.locator(".badge", { hasText: "quarantine" }).count(), 0);
  await shot("4b-tier-back");
});

test("a safety-critical pump: the quarantine waits for approval, approved from the incident page", async (t) => {
  if (!needBrowser(t)) return;
  const pump = await enrollDevice(vigil.platform, dir.path, "pump-e2e", "infusion-pump");
  const client = await connectDevice(vigil.platform.gateway.url, pump);
  devices.push(client);
  await nav("Incidents");
  client.subscribe("vigil/pump-9/cmd", { qos: 1 }, () => undefined);
  const row = page.locator("tr[data-incident]", { hasText: "pump-e2e" });
  await row.getByText("awaits approval").waitFor({ timeout: 10_000 });
  assert.notEqual(vigil.platform.gateway.policyOf("pump-e2e")?.tier, "quarantine", "not quarantined before approval");
  await row.getByRole("link").first().click();
  await page.getByText(/Pending approval: quarantine/).waitFor();
  await shot("5a-approval-pending");
  await page.getByRole("button", { name: "Approve actions" }).click();
  await page.getByText(/Mitigation in force: quarantine/).waitFor({ timeout: 10_000 });
  await waitFor(() => vigil.platform.gateway.policyOf("pump-e2e")?.tier === "quarantine", 5_000, "the approved quarantine");
  assert.equal(await page.getByRole("button", { name: "Approve actions" }).count(), 0);
  await shot("5b-approved");
});

test("download the compliance report as PDF and JSON", async (t) => {
  if (!needBrowser(t)) return;
  await nav("Compliance");
  await page.getByRole("heading", { name: "Compliance" }).waitFor();
  await page.getByText("CIA scorecard").first().waitFor();
  for (const [label, check] of [
    ["Download PDF", (b: Buffer) => assert.equal(b.subarray(0, 5).toString("latin1"), "%PDF-")],
    [
      "Download JSON",
      (b: Buffer) => assert.equal((JSON.parse(b.toString("utf8")) as { kind: string }).kind, "vigil.compliance-report"),
    ],
  ] as const) {
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: label }).click()]);
    const path = join(dir.path, download.suggestedFilename());
    await download.saveAs(path);
    check(readFileSync(path));
  }
  await shot("6-compliance");
  await nav("Overview");
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  await page.getByText("As of").waitFor();
  await shot("overview-after-attack");
  // Tablet width: the navigation wraps above the content and nothing overflows sideways.
  await page.setViewportSize({ width: 820, height: 1100 });
  await nav("Overview");
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  const overflow = Number(await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"));
  assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px at 820px`);
  await shot("overview-tablet");
});

test("every page opens without an error and fits a tablet's width", async (t) => {
  if (!needBrowser(t)) return;
  await page.setViewportSize({ width: 820, height: 1100 });
  // A sensor reports a host no enrolled device holds, recognised as a camera.
  const sensor = { mac: "02:00:5e:10:00:99", ip: "10.9.8.7", source: "watch:test" };
  vigil.platform.bus.emit("asset.discovered", { ...sensor, firstSeen: new Date().toISOString() });
  vigil.platform.bus.emit("asset.identified", { ...sensor, deviceType: "ip-camera", confidence: 0.9 });
  for (const [label, heading, expect] of [
    ["Devices", "Devices", "pump-e2e"],
    ["Incidents", "Incidents", "lateral_movement"],
    ["Detections", "Detections", "lateral_movement"],
    ["Network assets", "Network assets", "ip-camera (90 %)"],
    ["Updates", "Updates", "No campaign"],
    ["Vulnerabilities", "Vulnerabilities", "No open finding"],
    ["Compliance", "Compliance", "NIST Cybersecurity Framework 2.0"],
    ["Audit log", "Audit log", "enrollment.completed"],
    ["Settings", "Settings", "infusion-pump"],
  ] as const) {
    await nav(label);
    await page.getByRole("heading", { name: heading, exact: true }).waitFor();
    await page.getByText(expect).first().waitFor({ timeout: 10_000 });
    assert.equal(await page.getByRole("alert").count(), 0, `${label}: no error shown`);
    const overflow = Number(await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"));
    assert.ok(overflow <= 0, `${label} scrolls sideways by ${overflow}px at 820px`);
    await shot(`page-${label.toLowerCase().replace(/ /g, "-")}`);
  }
});

test("an admin creates an operator, who sets a password and enrols TOTP from the QR code page", async (t) => {
  if (!needBrowser(t)) return;
  await page.setViewportSize({ width: 1280, height: 900 });
  await nav("Settings");
  await page.getByLabel("New operator").fill("nurse-lead");
  await page.getByRole("button", { name: "Create operator" }).click();
  const oneTime = (await page.getByTestId("one-time-password").textContent()) ?? "";
  assert.ok(oneTime.length >= 12, "a one-time password is shown");
  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByText("You logged out.").waitFor();

  await page.getByLabel("Operator name").fill("nurse-lead");
  await page.getByLabel("Password").fill(oneTime);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByLabel("One-time password").fill(oneTime);
  await page.getByLabel("New password").fill("nurse lead's own passphrase");
  await page.getByRole("button", { name: "Change password" }).click();
  await page.getByRole("button", { name: "Enrol an authenticator app (TOTP)" }).click();
  const qr = page.getByRole("img", { name: /QR code/ });
  await qr.waitFor();
  // The QR code is a data: image, which the console's CSP allows (and nothing else inline).
  assert.ok(Number(await qr.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)) > 0, "QR drawn");
  await shot("7-mfa-qr");
  await page.getByText("Cannot scan? Type the secret instead").click();
  const secret = ((await page.locator("code.secret").textContent()) ?? "").trim();
  await page.getByLabel("Code from the app").fill(await totpCode(secret, vigil.clock.now()));
  await page.getByRole("button", { name: "Confirm" }).click();
  await page.getByText("Keep these recovery codes somewhere safe").waitFor();
  assert.equal(await page.locator(".codes li").count(), 10);
  await page.getByRole("button", { name: "Continue" }).click();
  // The session that proved the code now counts as opened with it: the console opens where it was.
  await page.getByText("nurse-lead (security-operator)").waitFor();
  await page.getByRole("heading", { name: "Settings" }).waitFor();
  await page.getByText("Your role cannot see operator accounts.").waitFor();
});
