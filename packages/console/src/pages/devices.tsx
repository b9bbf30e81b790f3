import type { CertificateDto, DeviceDto, DeviceListResponse, DeviceTrustResponse, IncidentListDto } from "@vigil/contract";
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { get, when } from "../api.js";
import { Badge, Chart, ErrorBox, Link, Loading, Section, useApi, type Series } from "../components.js";
import { describe, live, useLiveEvents, type LiveEvent } from "../live.js";
import type { GatewaySessions } from "../types.js";

/** Every device (first 1000), searchable, filtered by state; new enrollments appear live. */
export function DevicesPage() {
  const devices = useApi(() => get<DeviceListResponse>("/api/v1/devices?limit=1000"));
  const sessions = useApi(() => get<GatewaySessions>("/api/v1/gateway/sessions"));
  const [query, setQuery] = useState("");
  const [state, setState] = useState("");
  useLiveEvents(["enrollment.completed", "device.registered", "identity.revoked"], devices.reload);
  useLiveEvents(["gateway.connected", "gateway.disconnected", "gateway.policy_changed", "trust.changed"], sessions.reload);
  const online = new Map(sessions.data?.items.map((s) => [s.device, s]) ?? []);
  const shown = (devices.data?.items ?? []).filter(
    (d) =>
      (state === "" || d.state === state) &&
      (query === "" ||
        `${d.id} ${d.profile ?? ""} ${d.site} ${d.firmwareVersion ?? ""}`.toLowerCase().includes(query.toLowerCase())),
  );
  return (
    <>
      <h1>Devices</h1>
      <div class="toolbar" role="search">
        <label>
          Search
          <input
            type="search"
            name="search"
            value={query}
            onInput={(e) => setQuery(e.currentTarget.value)}
            placeholder="id, profile, site, firmware"
          />
        </label>
        <label>
          State
          <select value={state} onChange={(e) => setState(e.currentTarget.value)}>
            <option value="">any</option>
            {["pending", "active", "revoked"].map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorBox error={devices.error} what="load devices" />
      {devices.loading && devices.data === undefined ? <Loading what="devices" /> : null}
      {devices.data && shown.length === 0 ? (
        <p class="muted">No device matches. Devices appear here when they are registered or enroll (over EST).</p>
      ) : null}
      {shown.length > 0 ? (
        <table class="devices">
          <caption>{shown.length} devices</caption>
          <thead>
            <tr>
              <th scope="col">device</th>
              <th scope="col">state</th>
              <th scope="col">online</th>
              <th scope="col">profile</th>
              <th scope="col">site</th>
              <th scope="col">firmware</th>
              <th scope="col">enrolled</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((d) => (
              <tr key={d.id} data-device={d.id}>
                <td>
                  <Link href={`devices/${encodeURIComponent(d.id)}`}>{d.id}</Link>
                </td>
                <td>
                  <Badge value={d.state} />
                </td>
                <td>
                  {online.has(d.id) ? (
                    <>
                      <Badge value="online" /> <Badge value={online.get(d.id)?.tier ?? "no tier"} />
                    </>
                  ) : (
                    "offline"
                  )}
                </td>
                <td>{d.profile ?? "—"}</td>
                <td>{d.site}</td>
                <td>{d.firmwareVersion ?? "—"}</td>
                <td>{when(d.enrolledAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
}

const WINDOW_SECONDS = 120;

const TRAFFIC = ["gateway.connected", "gateway.disconnected", "gateway.denied", "gateway.throttled"];
/** The timeline shows these from the trust history and the incident list instead. */
const SHOWN_ELSEWHERE = ["trust.changed", "incident.opened"];

/**
 * Counts the device's gateway events (connects, denials, throttled messages) per second over
 * the last two minutes, from the live stream (the events received before the page opened included).
 */
function useTraffic(device: string) {
  const buckets = useRef(new Map<number, { connects: number; denied: number; throttled: number }>());
  const [tick, setTick] = useState(0);
  const count = useCallback(
    (e: LiveEvent) => {
      if (e.payload.device !== device || !TRAFFIC.includes(e.name)) return;
      const second = Math.floor(e.receivedAt / 1000);
      const b = buckets.current.get(second) ?? { connects: 0, denied: 0, throttled: 0 };
      if (e.name === "gateway.denied") b.denied++;
      else if (e.name === "gateway.throttled") b.throttled += typeof e.payload.dropped === "number" ? e.payload.dropped : 1;
      else b.connects++;
      buckets.current.set(second, b);
    },
    [device],
  );
  useEffect(() => {
    buckets.current.clear();
    for (const e of live.recent) count(e);
    setTick((t) => t + 1);
    const timer = window.setInterval(() => setTick((t) => t + 1), 2000);
    return () => window.clearInterval(timer);
  }, [count]);
  const onEvent = useCallback(
    (e: LiveEvent) => {
      count(e);
      setTick((t) => t + 1);
    },
    [count],
  );
  useLiveEvents(TRAFFIC, onEvent);
  return useMemo(() => {
    const now = Math.floor(Date.now() / 1000);
    const x: number[] = [];
    const denied: number[] = [];
    const throttled: number[] = [];
    const connects: number[] = [];
    for (let s = now - WINDOW_SECONDS; s <= now; s++) {
      const b = buckets.current.get(s);
      x.push(s);
      denied.push(b?.denied ?? 0);
      throttled.push(b?.throttled ?? 0);
      connects.push(b?.connects ?? 0);
    }
    for (const k of buckets.current.keys()) if (k < now - WINDOW_SECONDS) buckets.current.delete(k);
    const series: Series[] = [
      { label: "denied", color: "#f85149", values: denied },
      { label: "throttled (dropped)", color: "#d29922", values: throttled },
      { label: "connects/disconnects", color: "#58a6ff", values: connects },
    ];
    return { x, series };
  }, [tick]);
}

/** One device: identity, certificate, profile, firmware, the score explained, its timeline and live traffic. */
export function DeviceDetailPage({ id }: { id: string }) {
  const path = encodeURIComponent(id);
  const device = useApi(() => get<DeviceDto>(`/api/v1/devices/${path}`), [id]);
  const trust = useApi(() => get<DeviceTrustResponse>(`/api/v1/devices/${path}/trust`), [id]);
  const certs = useApi(() => get<{ items: CertificateDto[] }>(`/api/v1/devices/${path}/certificates`), [id]);
  const incidents = useApi(() => get<IncidentListDto>(`/api/v1/incidents?device=${path}&limit=50`), [id]);
  const sessions = useApi(() => get<GatewaySessions>("/api/v1/gateway/sessions"), [id]);
  const session = sessions.data?.items.find((s) => s.device === id);
  const traffic = useTraffic(id);
  const mine = useCallback((e: LiveEvent) => e.payload.device === id && (trust.reload(), device.reload()), [id]);
  useLiveEvents(["trust.changed", "enrollment.completed", "identity.revoked"], mine);
  const sessionChanged = useCallback((e: LiveEvent) => e.payload.device === id && sessions.reload(), [id]);
  useLiveEvents(
    ["gateway.connected", "gateway.disconnected", "gateway.policy_changed", "incident.", "response."],
    sessionChanged,
  );
  const events = live.recent
    .filter((e) => e.payload.device === id && !TRAFFIC.includes(e.name) && !SHOWN_ELSEWHERE.includes(e.name))
    .slice(0, 30);
  const d = device.data;
  const t = trust.data;
  const timeline: { at: number; node: ComponentChildren }[] = [
    ...events.map((e) => ({ at: Date.parse(e.at), node: describe(e) })),
    ...(t?.history ?? []).slice(0, 30).map((h) => ({
      at: Date.parse(h.at),
      node: `trust ${h.from ?? "new"} → ${h.tier} (score ${h.score.toFixed(0)}): ${h.reasons.join("; ")}`,
    })),
    ...(incidents.data?.items ?? []).map((i) => ({
      at: Date.parse(i.openedAt),
      node: (
        <>
          <Link href={`incidents/${encodeURIComponent(i.id)}`}>incident opened</Link> {i.rules.join(", ")}{" "}
          <Badge value={i.state} />
        </>
      ),
    })),
  ].sort((a, b) => b.at - a.at);
  const history = useMemo(() => {
    const h = [...(t?.history ?? [])].reverse();
    return {
      x: h.map((e) => Date.parse(e.at) / 1000),
      series: [{ label: "score", color: "#3fb950", values: h.map((e) => e.score) }],
    };
  }, [t]);
  return (
    <>
      <p>
        <Link href="devices">← Devices</Link>
      </p>
      <h1>Device {id}</h1>
      <ErrorBox error={device.error} what="load the device" />
      {d ? (
        <div class="grid">
          <Section title="Identity">
            <dl>
              <dt>state</dt>
              <dd>
                <Badge value={d.state} />
              </dd>
              <dt>site</dt>
              <dd>{d.site}</dd>
              <dt>profile</dt>
              <dd>{d.profile ?? "none (control channel only)"}</dd>
              <dt>firmware</dt>
              <dd>{d.firmwareVersion ?? "unknown"}</dd>
              <dt>attestation</dt>
              <dd>
                {d.attestationMethod ?? "—"} (strength {d.attestationStrength ?? "—"})
              </dd>
              <dt>key</dt>
              <dd>{d.keyType ?? "—"}</dd>
              <dt>SBOM</dt>
              <dd>{d.sbomRef ?? "—"}</dd>
              <dt>enrolled</dt>
              <dd>{when(d.enrolledAt)}</dd>
              <dt>last seen</dt>
              <dd>{when(d.lastSeenAt)}</dd>
            </dl>
          </Section>
          <Section title="Certificate">
            <ErrorBox error={certs.error} what="load certificates" />
            {certs.data && certs.data.items.length === 0 ? <p class="muted">No certificate issued yet.</p> : null}
            <ul class="plain">
              {certs.data?.items.map((c) => (
                <li key={c.serial}>
                  <code>{c.serial}</code> <Badge value={c.status} />
                  <br />
                  {c.subject}, valid {when(c.notBefore)} – {when(c.notAfter)}
                  {c.revocationReason ? ` (revoked: ${c.revocationReason})` : ""}
                </li>
              ))}
            </ul>
          </Section>
          <Section title="Trust score">
            <ErrorBox error={trust.error} what="load the trust score" />
            {t ? (
              <>
                <p class="score">
                  <strong data-testid="score">{t.score.toFixed(0)}</strong>/100, tier <Badge value={t.tier} />
                  {t.scoreTier !== t.tier ? ` (the score alone: ${t.scoreTier})` : ""} ·{" "}
                  {t.connected ? "connected" : "not connected"}
                </p>
                <p>
                  At the gateway:{" "}
                  {session ? (
                    <>
                      connected, tier in force <Badge value={session.tier ?? "none"} />
                      {session.tier !== t.tier ? " (held by an incident's mitigation)" : ""}
                    </>
                  ) : (
                    "not connected"
                  )}
                </p>
                {t.ceilings.map((c) => (
                  <p key={c.reason} class="notice">
                    Held at {c.tier}: {c.reason}
                  </p>
                ))}
                <table>
                  <caption>Why: every factor, its weight and contribution</caption>
                  <thead>
                    <tr>
                      <th scope="col">factor</th>
                      <th scope="col">weight</th>
                      <th scope="col">value</th>
                      <th scope="col">points</th>
                      <th scope="col">detail</th>
                    </tr>
                  </thead>
                  <tbody>
                    {t.factors.map((f) => (
                      <tr key={f.id}>
                        <td title={f.detail}>{f.title}</td>
                        <td>{f.weight}</td>
                        <td>{f.value.toFixed(2)}</td>
                        <td>{f.contribution.toFixed(1)}</td>
                        <td>{f.detail}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </>
            ) : null}
          </Section>
          <Section title="Score history">
            {history.x.length > 1 ? (
              <Chart title="Trust score over time" x={history.x} series={history.series} />
            ) : (
              <p class="muted">One score so far.</p>
            )}
          </Section>
        </div>
      ) : device.loading ? (
        <Loading what="device" />
      ) : null}
      <Section title="Live traffic (gateway events per second)">
        <Chart title="Gateway events for this device, last 2 minutes" x={traffic.x} series={traffic.series} height={180} />
      </Section>
      <Section title="Timeline">
        <ul class="plain">
          {timeline.length === 0 ? <li class="muted">Nothing recorded yet.</li> : null}
          {timeline.map((e, n) => (
            <li key={`${e.at}-${n}`}>
              <time>{when(new Date(e.at).toISOString())}</time> {e.node}
            </li>
          ))}
        </ul>
      </Section>
    </>
  );
}
