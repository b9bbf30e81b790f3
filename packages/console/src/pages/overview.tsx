import type { DeviceListResponse, IncidentListDto, TrustSummaryResponse } from "@vigil/contract";
import { useMemo } from "preact/hooks";
import { get, when } from "../api.js";
import { Badge, Chart, ErrorBox, Link, Loading, Section, Stat, useApi } from "../components.js";
import { describe, useLiveEvents, useRecentEvents } from "../live.js";
import type { ComplianceReportView, GatewaySessions } from "../types.js";

const TIERS = ["quarantine", "restricted", "standard", "trusted"] as const;

export function OverviewPage() {
  const trust = useApi(() => get<TrustSummaryResponse>("/api/v1/trust?lowest=10"));
  const sessions = useApi(() => get<GatewaySessions>("/api/v1/gateway/sessions"));
  const incidents = useApi(() => get<IncidentListDto>("/api/v1/incidents?limit=200"));
  const devices = useApi(() => get<DeviceListResponse>("/api/v1/devices?limit=1000"));
  const report = useApi(() => scorecard(false));
  const events = useRecentEvents();
  useLiveEvents(["trust.changed", "enrollment.completed"], trust.reload);
  useLiveEvents(["gateway.connected", "gateway.disconnected", "gateway.policy_changed", "enrollment.completed"], sessions.reload);
  useLiveEvents(["incident."], incidents.reload);
  useLiveEvents(["enrollment.completed", "device.registered"], devices.reload);

  const open = incidents.data?.items.filter((i) => i.state !== "resolved" && i.state !== "closed") ?? [];
  const tierChart = useMemo(() => {
    const t = trust.data?.tiers;
    if (t === undefined) return undefined;
    const inForce = TIERS.map((tier) => sessions.data?.items.filter((s) => s.tier === tier).length ?? 0);
    return [
      { label: "by trust score", color: "#58a6ff", values: TIERS.map((tier) => t[tier]) },
      { label: "in force at the gateway (online)", color: "#d29922", values: inForce },
    ];
  }, [trust.data, sessions.data]);
  const x = useMemo(() => TIERS.map((_t, i) => i), []);

  return (
    <>
      <h1>Overview</h1>
      <div class="stats">
        <Stat
          label="devices"
          value={devices.data?.items.length ?? "…"}
          note={devices.data?.next ? "first 1000 shown" : undefined}
        />
        <Stat label="devices online" value={sessions.data?.items.length ?? "…"} />
        <Stat label="open incidents" value={incidents.data ? open.length : "…"} />
        <Stat label="scored devices" value={trust.data?.devices ?? "…"} />
      </div>
      <div class="grid">
        <Section title="Trust distribution">
          <ErrorBox error={trust.error} what="load the trust summary" />
          {tierChart ? (
            <Chart title="Devices per trust tier" x={x} series={tierChart} bars categories={TIERS} />
          ) : trust.error ? null : (
            <Loading what="trust" />
          )}
          {trust.data ? (
            <table>
              <caption>{"Devices per tier (an incident's mitigation can hold a device below its score's tier)"}</caption>
              <thead>
                <tr>
                  <th scope="col">tier</th>
                  <th scope="col">by trust score</th>
                  <th scope="col">in force at the gateway</th>
                </tr>
              </thead>
              <tbody>
                {TIERS.map((t) => (
                  <tr key={t}>
                    <td>
                      <Badge value={t} />
                    </td>
                    <td>{trust.data!.tiers[t]}</td>
                    <td>{sessions.data?.items.filter((s) => s.tier === t).length ?? "…"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
        </Section>
        <Section title="Lowest trust">
          {trust.data && trust.data.lowest.length === 0 ? <p class="muted">No scored device yet.</p> : null}
          <ul class="plain">
            {trust.data?.lowest.map((d) => (
              <li key={d.device}>
                <Link href={`devices/${encodeURIComponent(d.device)}`}>{d.device}</Link> {d.score.toFixed(0)}{" "}
                <Badge value={d.tier} />
              </li>
            ))}
          </ul>
        </Section>
        <Section title="Open incidents">
          <ErrorBox error={incidents.error} what="load incidents" />
          {incidents.data && open.length === 0 ? <p class="muted">No open incident.</p> : null}
          <ul class="plain">
            {open.slice(0, 8).map((i) => (
              <li key={i.id}>
                <Link href={`incidents/${encodeURIComponent(i.id)}`}>{i.device}</Link> <Badge value={i.severity} />{" "}
                <Badge value={i.state} /> {i.rules.join(", ")}
              </li>
            ))}
          </ul>
        </Section>
        <Section title="CIA scorecard">
          <CiaScorecard report={report.data} error={report.error} />
          {report.data ? (
            <p class="muted">
              As of {when(report.data.generatedAt)}.{" "}
              <button type="button" class="secondary" onClick={() => void scorecard(true).then(report.reload, report.reload)}>
                Recompute
              </button>
            </p>
          ) : null}
        </Section>
      </div>
      <Section title="Live events">
        {events.length === 0 ? <p class="muted">Waiting for events (enrollments, connections, detections, incidents)…</p> : null}
        <ol class="events" aria-live="polite" aria-label="Live events, newest first">
          {events.slice(0, 30).map((e) => (
            <li key={e.seq}>
              <time>{when(e.at)}</time> <span class="event-name">{e.name}</span> {describe(e)}
            </li>
          ))}
        </ol>
      </Section>
    </>
  );
}

let cached: { at: number; report: Promise<ComplianceReportView> } | undefined;
const SCORECARD_MAX_AGE_MS = 10 * 60_000;

/**
 * The scorecard comes with a compliance report (each one is generated, hashed and audited), so
 * the overview asks for one at most every ten minutes, or when the operator says so.
 */
function scorecard(fresh: boolean): Promise<ComplianceReportView> {
  if (fresh || cached === undefined || Date.now() - cached.at > SCORECARD_MAX_AGE_MS) {
    const report = get<ComplianceReportView>("/api/v1/reports/compliance?format=json");
    cached = { at: Date.now(), report };
    report.catch(() => (cached = undefined));
  }
  return cached.report;
}

export function CiaScorecard({ report, error }: { report: ComplianceReportView | undefined; error: unknown }) {
  if (error) return <ErrorBox error={error} what="compute the CIA scorecard" />;
  if (report === undefined) return <Loading what="scorecard" />;
  const s = report.scorecard;
  return (
    <>
      <p>
        {s.verticalTitle}: overall <strong>{s.overall === null ? "not assessed" : `${s.overall}/100`}</strong>
      </p>
      <table>
        <thead>
          <tr>
            <th scope="col">outcome</th>
            <th scope="col">pillar</th>
            <th scope="col">weight</th>
            <th scope="col">score</th>
          </tr>
        </thead>
        <tbody>
          {s.outcomes.map((o) => (
            <tr key={o.outcome}>
              <td>{o.outcome}</td>
              <td>{o.pillar}</td>
              <td>{o.weight}</td>
              <td>
                {o.score === null ? "—" : <meter min={0} max={100} value={o.score} aria-label={`${o.outcome} score`} />}{" "}
                {o.score ?? "not assessed"}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
