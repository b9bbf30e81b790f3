import type {
  AuditListResponse,
  CreateOperatorResponse,
  FindingListResponse,
  LastCheckRunResponse,
  OperatorListResponse,
  OtaArtifactDto,
  OtaCampaignDto,
  PlaybookListDto,
} from "@vigil/contract";
import { useState } from "preact/hooks";
import { ApiError, get, ms, post, when } from "../api.js";
import { Badge, Chart, ErrorBox, Link, Loading, Section, useApi } from "../components.js";
import { describe, useLiveEvents, useRecentEvents } from "../live.js";
import type { AssetView, ComplianceReportView, DetectionView, ProfileView } from "../types.js";
import { MfaEnrolment } from "./mfa.js";
import { CiaScorecard } from "./overview.js";

export function DetectionsPage() {
  const list = useApi(() => get<{ items: DetectionView[] }>("/api/v1/detections?limit=200"));
  useLiveEvents(["finding.raised"], list.reload);
  return (
    <>
      <h1>Detections</h1>
      <p class="muted">What the streaming detector found on the message path, and what it did about it (newest first).</p>
      <ErrorBox error={list.error} what="load detections" />
      {list.data && list.data.items.length === 0 ? <p class="muted">No detection since Vigil started.</p> : null}
      {list.data && list.data.items.length > 0 ? (
        <table>
          <thead>
            <tr>
              <th scope="col">when</th>
              <th scope="col">device</th>
              <th scope="col">rule</th>
              <th scope="col">severity</th>
              <th scope="col">action</th>
              <th scope="col">detect → block</th>
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((f) => (
              <tr key={f.id}>
                <td>{when(f.at)}</td>
                <td>
                  <Link href={`devices/${encodeURIComponent(f.device)}`}>{f.device}</Link>
                </td>
                <td>{f.rule}</td>
                <td>
                  <Badge value={f.severity} />
                </td>
                <td>{f.action}</td>
                <td>{ms(f.detectToBlockMs)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
}

export function AssetsPage() {
  const [status, setStatus] = useState<"" | AssetView["status"]>("");
  const list = useApi(
    () => get<{ items: AssetView[] }>(`/api/v1/network/assets?limit=500${status === "" ? "" : `&status=${status}`}`),
    [status],
  );
  useLiveEvents(["asset.", "network.anomaly_detected"], list.reload);
  return (
    <>
      <h1>Network assets</h1>
      <p class="muted">
        Hosts seen by the daemon's in-process packet analysis (the simulator feeds it today): <strong>enrolled</strong> when an
        enrolled device holds the address, <strong>identified</strong> when its type was recognised but no enrolled device holds
        it (onboard or explain it), <strong>unknown</strong> otherwise.
      </p>
      <label>
        Show{" "}
        <select value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value as typeof status)}>
          <option value="">all hosts</option>
          <option value="enrolled">enrolled</option>
          <option value="identified">identified, not enrolled</option>
          <option value="unknown">unknown</option>
        </select>
      </label>
      <ErrorBox error={list.error} what="load network assets" />
      {list.data && list.data.items.length === 0 ? <p class="muted">No host seen yet.</p> : null}
      {list.data && list.data.items.length > 0 ? (
        <table>
          <thead>
            <tr>
              <th>host</th>
              <th>status</th>
              <th>device / type</th>
              <th>anomalies</th>
              <th>last seen</th>
              <th>source</th>
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((a) => (
              <tr key={a.key}>
                <td>
                  {a.ip ?? "-"} {a.mac ? <span class="muted">{a.mac}</span> : null}
                </td>
                <td>
                  <Badge value={a.status} />
                </td>
                <td>
                  {a.device ? <Link href={`devices/${encodeURIComponent(a.device)}`}>{a.device}</Link> : null}
                  {a.deviceType ? ` ${a.deviceType} (${Math.round((a.confidence ?? 0) * 100)} %)` : null}
                </td>
                <td>{a.anomalies}</td>
                <td>
                  <time>{when(a.lastSeen)}</time>
                </td>
                <td>{a.source}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
}

export function UpdatesPage() {
  const artifacts = useApi(() => get<{ items: OtaArtifactDto[] }>("/api/v1/ota/artifacts"));
  const campaigns = useApi(() => get<{ items: OtaCampaignDto[] }>("/api/v1/ota/campaigns"));
  useLiveEvents(["campaign.", "ota."], campaigns.reload);
  useLiveEvents(["ota.artifact_added"], artifacts.reload);
  return (
    <>
      <h1>Updates</h1>
      <Section title="Campaigns">
        <ErrorBox error={campaigns.error} what="load campaigns" />
        {campaigns.data && campaigns.data.items.length === 0 ? (
          <p class="muted">No campaign. Create one with `vigil ota campaign create`.</p>
        ) : null}
        {campaigns.data?.items.map((c) => {
          const counts = c.counts as Record<string, number>;
          const states = Object.keys(counts);
          return (
            <article key={c.id} class="campaign">
              <h3>
                {c.name} → {c.version} <Badge value={c.state} />
              </h3>
              <p>
                Wave {c.wave} of {c.waves - 1} (0 is the canary), {c.devices} devices.{" "}
                {c.haltReason ? `Halted: ${c.haltReason}.` : ""}
              </p>
              <progress max={c.devices} value={counts.installed ?? 0} aria-label={`${c.name}: devices installed`} />{" "}
              {counts.installed ?? 0}/{c.devices} installed
              <Chart
                title={`${c.name}: devices per state`}
                x={states.map((_s, i) => i)}
                categories={states}
                bars
                height={160}
                series={[{ label: "devices", color: "#58a6ff", values: states.map((s) => counts[s] ?? 0) }]}
              />
            </article>
          );
        })}
      </Section>
      <Section title="Firmware artifacts">
        <ErrorBox error={artifacts.error} what="load artifacts" />
        {artifacts.data && artifacts.data.items.length === 0 ? <p class="muted">No signed firmware uploaded yet.</p> : null}
        {artifacts.data && artifacts.data.items.length > 0 ? (
          <table>
            <thead>
              <tr>
                <th scope="col">artifact</th>
                <th scope="col">version</th>
                <th scope="col">profile</th>
                <th scope="col">bytes</th>
                <th scope="col">SHA-256</th>
                <th scope="col">added</th>
              </tr>
            </thead>
            <tbody>
              {artifacts.data.items.map((a) => (
                <tr key={a.name}>
                  <td>{a.name}</td>
                  <td>{a.version}</td>
                  <td>{a.profile}</td>
                  <td>{a.length}</td>
                  <td>
                    <code>{a.sha256.slice(0, 16)}…</code>
                  </td>
                  <td>{when(a.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </Section>
    </>
  );
}

export function VulnerabilitiesPage() {
  const findings = useApi(() => get<FindingListResponse>("/api/v1/vulnerabilities?status=open"));
  useLiveEvents(["vulnerability.found", "vulnerability.resolved"], findings.reload);
  return (
    <>
      <h1>Vulnerabilities</h1>
      <p class="muted">
        Each device's firmware SBOM matched against the advisories held (import them with `vigil advisories import`).
      </p>
      <ErrorBox error={findings.error} what="load vulnerability findings" />
      {findings.data && findings.data.items.length === 0 ? <p class="muted">No open finding.</p> : null}
      {findings.data && findings.data.items.length > 0 ? (
        <table>
          <thead>
            <tr>
              <th scope="col">device</th>
              <th scope="col">advisory</th>
              <th scope="col">component</th>
              <th scope="col">severity</th>
              <th scope="col">CVSS</th>
              <th scope="col">fixed in</th>
            </tr>
          </thead>
          <tbody>
            {findings.data.items.map((f) => (
              <tr key={`${f.device}-${f.advisory}-${f.component}`}>
                <td>{f.device}</td>
                <td>
                  <a
                    href={`https://osv.dev/vulnerability/${encodeURIComponent(f.advisory)}`}
                    rel="noreferrer noopener"
                    target="_blank"
                  >
                    {f.advisory}
                  </a>
                </td>
                <td>
                  {f.component} {f.componentVersion}
                </td>
                <td>
                  <Badge value={f.severity} />
                </td>
                <td>{f.cvss ?? "—"}</td>
                <td>{f.fixedVersion ?? "no fix known"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
}

export function CompliancePage() {
  const report = useApi(() => get<ComplianceReportView>("/api/v1/reports/compliance?format=json"));
  const checks = useApi(() => get<LastCheckRunResponse>("/api/v1/audit-checks"));
  const [running, setRunning] = useState(false);
  const [runError, setRunError] = useState<unknown>(undefined);
  return (
    <>
      <h1>Compliance</h1>
      <Section title="Download the report">
        <p>
          The report maps live evidence to NIST CSF 2.0, NIST IR 8259A and ETSI EN 303 645; its SHA-256 is recorded in the audit
          log.
        </p>
        <p class="actions">
          <a class="button" href="/api/v1/reports/compliance?format=pdf" download>
            Download PDF
          </a>
          <a class="button secondary" href="/api/v1/reports/compliance?format=html" download>
            Download HTML
          </a>
          <a class="button secondary" href="/api/v1/reports/compliance?format=json" download>
            Download JSON
          </a>
        </p>
      </Section>
      <Section title="CIA scorecard">
        <CiaScorecard report={report.data} error={report.error} />
      </Section>
      <Section title="Audit checks">
        <button
          type="button"
          disabled={running}
          onClick={() => {
            setRunning(true);
            post("/api/v1/audit-checks/run")
              .then(() => (checks.reload(), report.reload()), setRunError)
              .finally(() => setRunning(false));
          }}
        >
          {running ? "Running…" : "Run the checks now"}
        </button>
        <ErrorBox error={runError ?? checks.error} what="run the audit checks" />
        {report.data ? (
          <table>
            <thead>
              <tr>
                <th scope="col">check</th>
                <th scope="col">status</th>
                <th scope="col">found</th>
                <th scope="col">what to do</th>
              </tr>
            </thead>
            <tbody>
              {report.data.auditChecks.results.map((c) => (
                <tr key={c.id}>
                  <td>{c.title}</td>
                  <td>
                    <Badge value={c.status} />
                  </td>
                  <td>{c.summary}</td>
                  <td>{c.status === "pass" ? "—" : c.remediation}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </Section>
      {report.data?.frameworks.map((f) => (
        <Section key={f.id} title={f.title}>
          <p class="muted">
            {Object.entries(f.summary)
              .map(([k, v]) => `${v} ${k}`)
              .join(" · ")}
          </p>
          <details>
            <summary>Controls and evidence ({f.controls.length})</summary>
            <table>
              <thead>
                <tr>
                  <th scope="col">control</th>
                  <th scope="col">status</th>
                  <th scope="col">criterion</th>
                  <th scope="col">evidence</th>
                </tr>
              </thead>
              <tbody>
                {f.controls.map((c) => (
                  <tr key={c.ref}>
                    <td>
                      {c.ref} {c.title}
                    </td>
                    <td>
                      <Badge value={c.status} />
                    </td>
                    <td>{c.criterion}</td>
                    <td>{c.reason ?? `${c.evidence.length} items`}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </details>
        </Section>
      ))}
      {report.loading && !report.data ? <Loading what="the compliance report" /> : null}
    </>
  );
}

export function AuditPage() {
  const [after, setAfter] = useState<number | undefined>(undefined);
  const page = useApi(
    () => get<AuditListResponse>(`/api/v1/audit?limit=100${after !== undefined ? `&after=${after}` : ""}`),
    [after],
  );
  return (
    <>
      <h1>Audit log</h1>
      <p class="muted">
        Append-only and hash-chained: each entry's hash covers the previous one. `vigil audit verify` checks the chain offline.
      </p>
      <ErrorBox error={page.error} what="read the audit log" />
      {page.data ? (
        <>
          <div class="scroll">
            <table class="audit">
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">when</th>
                  <th scope="col">actor</th>
                  <th scope="col">action</th>
                  <th scope="col">target</th>
                  <th scope="col">outcome</th>
                </tr>
              </thead>
              <tbody>
                {page.data.items.map((e) => (
                  <tr key={e.seq}>
                    <td>{e.seq}</td>
                    <td class="nowrap">{when(e.at)}</td>
                    <td>{e.actor}</td>
                    <td class="nowrap">{e.action}</td>
                    <td class="wrap">{e.target}</td>
                    <td>{e.outcome}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <p class="actions">
            {after !== undefined ? (
              <button type="button" class="secondary" onClick={() => setAfter(undefined)}>
                First page
              </button>
            ) : null}
            {page.data.next !== null ? (
              <button type="button" class="secondary" onClick={() => setAfter(page.data!.next ?? undefined)}>
                Next page
              </button>
            ) : null}
          </p>
        </>
      ) : page.loading ? (
        <Loading what="audit entries" />
      ) : null}
    </>
  );
}

export function SettingsPage() {
  const profiles = useApi(() => get<{ items: ProfileView[] }>("/api/v1/profiles"));
  const playbooks = useApi(() => get<PlaybookListDto>("/api/v1/playbooks"));
  const operators = useApi(() => get<OperatorListResponse>("/api/v1/operators"));
  const hidden = (e: unknown) => e instanceof ApiError && e.code === "AUTH_PERMISSION_DENIED";
  return (
    <>
      <h1>Settings</h1>
      <Section title="Your second factor">
        <p class="muted">Enrol (or replace) an authenticator app: scan the QR code, confirm with a first code.</p>
        <MfaEnrolment />
      </Section>
      <Section title="Operators">
        {operators.data ? <CreateOperator onCreated={operators.reload} /> : null}
        {hidden(operators.error) ? (
          <p class="muted">Your role cannot see operator accounts.</p>
        ) : (
          <ErrorBox error={operators.error} what="list operators" />
        )}
        {operators.data ? (
          <table>
            <thead>
              <tr>
                <th scope="col">operator</th>
                <th scope="col">role</th>
                <th scope="col">sites</th>
                <th scope="col">second factors</th>
                <th scope="col">status</th>
              </tr>
            </thead>
            <tbody>
              {operators.data.items.map((o) => (
                <tr key={o.username}>
                  <td>{o.username}</td>
                  <td>{o.role}</td>
                  <td>{o.sites.join(", ")}</td>
                  <td>
                    {o.mfa.totp ? "TOTP" : ""} {o.mfa.webauthn > 0 ? `${o.mfa.webauthn} key(s)` : ""} ({o.mfa.recoveryCodesLeft}{" "}
                    recovery codes)
                  </td>
                  <td>{o.disabled ? "disabled" : o.mustChangePassword ? "must change password" : "active"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </Section>
      <Section title="Device profiles">
        <ErrorBox error={profiles.error} what="list profiles" />
        {profiles.data ? (
          <table>
            <thead>
              <tr>
                <th scope="col">profile</th>
                <th scope="col">vertical</th>
                <th scope="col">publish</th>
                <th scope="col">subscribe</th>
                <th scope="col">rate</th>
              </tr>
            </thead>
            <tbody>
              {profiles.data.items.map((p) => (
                <tr key={p.id}>
                  <td title={p.description}>
                    {p.id}
                    {p.safetyCritical ? " (safety-critical)" : ""}
                  </td>
                  <td>{p.vertical}</td>
                  <td>{p.publish.join(", ")}</td>
                  <td>{p.subscribe.join(", ")}</td>
                  <td>
                    {p.maxMessagesPerSecond}/s, burst {p.burst}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </Section>
      <Section title="Playbooks">
        <ErrorBox error={playbooks.error} what="list playbooks" />
        <ul class="plain">
          {playbooks.data?.items.map((p) => (
            <li key={String(p.id)}>
              <strong>{String(p.id)}</strong> {typeof p.description === "string" ? p.description : ""}
            </li>
          ))}
        </ul>
      </Section>
      <Section title="Webhooks">
        <p>
          Incident webhooks (signed, retried, dead-lettered) are configured in <code>vigil.yaml</code> as{" "}
          <code>response.webhookUrl</code> and <code>response.webhookSecretFile</code> (see docs/response.md); the API does not
          list them, so that their signing secrets never leave the server.
        </p>
        <RecentOf prefix="notification." />
      </Section>
    </>
  );
}

const ROLES = ["security-operator", "fleet-operator", "auditor", "device-integrator", "admin"];

/** Admins create operators here; the one-time password is shown once, to hand over out of band. */
function CreateOperator({ onCreated }: { onCreated: () => void }) {
  const [username, setUsername] = useState("");
  const [role, setRole] = useState(ROLES[0]!);
  const [sites, setSites] = useState("*");
  const [created, setCreated] = useState<CreateOperatorResponse | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  return (
    <>
      <form
        aria-label="Create an operator"
        onSubmit={(e) => {
          e.preventDefault();
          setError(undefined);
          const list = sites
            .split(",")
            .map((x) => x.trim())
            .filter(Boolean);
          post<CreateOperatorResponse>("/api/v1/operators", { username, role, sites: list }).then((r) => {
            setCreated(r);
            setUsername("");
            onCreated();
          }, setError);
        }}
      >
        <label>
          New operator
          <input name="new-operator" required value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
        </label>
        <label>
          Role
          <select value={role} onChange={(e) => setRole(e.currentTarget.value)}>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
        <label>
          Sites (comma-separated, * for all)
          <input name="sites" value={sites} onInput={(e) => setSites(e.currentTarget.value)} />
        </label>
        <button type="submit">Create operator</button>
      </form>
      <ErrorBox error={error} what="create the operator" />
      {created ? (
        <p class="notice" role="status">
          {created.operator.username} created. One-time password (shown once, hand it over privately):{" "}
          <code data-testid="one-time-password">{created.oneTimePassword}</code>
        </p>
      ) : null}
    </>
  );
}

function RecentOf({ prefix }: { prefix: string }) {
  const events = useRecentEvents().filter((e) => e.name.startsWith(prefix));
  if (events.length === 0) return null;
  return (
    <ul class="plain">
      {events.map((e) => (
        <li key={e.seq}>{describe(e)}</li>
      ))}
    </ul>
  );
}
