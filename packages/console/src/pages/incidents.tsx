import type { IncidentDto, IncidentFleetMeasuresDto, IncidentListDto } from "@vigil/contract";
import { useCallback, useState } from "preact/hooks";
import { get, ms, post, when } from "../api.js";
import { Badge, ErrorBox, Link, Loading, Section, Stat, useApi } from "../components.js";
import { useLiveEvents, type LiveEvent } from "../live.js";

export function IncidentsPage() {
  const [state, setState] = useState("");
  const list = useApi(() => get<IncidentListDto>(`/api/v1/incidents?limit=200${state ? `&state=${state}` : ""}`), [state]);
  const measures = useApi(() => get<IncidentFleetMeasuresDto>("/api/v1/incidents/measures"));
  useLiveEvents(["incident.", "response."], list.reload);
  useLiveEvents(["incident."], measures.reload);
  return (
    <>
      <h1>Incidents</h1>
      <div class="stats">
        <Stat label="incidents" value={measures.data?.incidents ?? "…"} />
        <Stat label="median time to detect" value={ms(measures.data?.mttd.median)} />
        <Stat label="median time to contain" value={ms(measures.data?.timeToContain.median)} />
        <Stat label="median time to recover" value={ms(measures.data?.mttr.median)} />
      </div>
      <div class="toolbar">
        <label>
          State
          <select value={state} onChange={(e) => setState(e.currentTarget.value)}>
            <option value="">any</option>
            {["open", "contained", "recovering", "resolved", "closed"].map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorBox error={list.error} what="load incidents" />
      {list.loading && !list.data ? <Loading what="incidents" /> : null}
      {list.data && list.data.items.length === 0 ? (
        <p class="muted">No incident. Detections that need a response open one here.</p>
      ) : null}
      {list.data && list.data.items.length > 0 ? (
        <table>
          <thead>
            <tr>
              <th scope="col">incident</th>
              <th scope="col">device</th>
              <th scope="col">severity</th>
              <th scope="col">state</th>
              <th scope="col">rules</th>
              <th scope="col">mitigation</th>
              <th scope="col">opened</th>
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((i) => (
              <tr key={i.id} data-incident={i.id}>
                <td class="wrap">
                  <Link href={`incidents/${encodeURIComponent(i.id)}`}>{i.id}</Link>
                </td>
                <td class="nowrap">{i.device}</td>
                <td>
                  <Badge value={i.severity} />
                </td>
                <td>
                  <Badge value={i.state} />
                  {i.approval ? <Badge value="awaits approval" kind="approval" /> : null}
                </td>
                <td>{i.rules.join(", ")}</td>
                <td>
                  {i.mitigation
                    ? i.mitigation.kind === i.mitigation.tier
                      ? i.mitigation.kind
                      : `${i.mitigation.kind} (tier ${i.mitigation.tier})`
                    : "—"}
                </td>
                <td>{when(i.openedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
}

export function IncidentDetailPage({ id }: { id: string }) {
  const path = `/api/v1/incidents/${encodeURIComponent(id)}`;
  const incident = useApi(() => get<IncidentDto>(path), [id]);
  const [actionError, setActionError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState("");
  const [done, setDone] = useState("");
  const [note, setNote] = useState("");
  const mine = useCallback((e: LiveEvent) => e.payload.incident === id && incident.reload(), [id]);
  useLiveEvents(["incident.", "response."], mine);
  const act = async (action: string, body?: unknown) => {
    setBusy(action);
    setActionError(undefined);
    try {
      await post<IncidentDto>(`${path}/${action}`, body);
      setDone(`${action}: done`);
      incident.reload();
    } catch (e) {
      setActionError(e);
    } finally {
      setBusy("");
    }
  };
  const i = incident.data;
  return (
    <>
      <p>
        <Link href="incidents">← Incidents</Link>
      </p>
      <h1>Incident {id}</h1>
      <ErrorBox error={incident.error} what="load the incident" />
      {!i && incident.loading ? <Loading what="incident" /> : null}
      {i ? (
        <>
          <div class="stats">
            <Stat label="device" value={<Link href={`devices/${encodeURIComponent(i.device)}`}>{i.device}</Link>} />
            <Stat label="state" value={<Badge value={i.state} />} />
            <Stat label="severity" value={<Badge value={i.severity} />} />
            <Stat label="time to detect" value={ms(i.measures.mttdMs)} />
            <Stat label="time to contain" value={ms(i.measures.timeToContainMs)} />
          </div>
          <Section title="Actions">
            {i.mitigation ? (
              <p>
                Mitigation in force: <strong>{i.mitigation.kind}</strong> at tier <Badge value={i.mitigation.tier} /> since{" "}
                {when(i.mitigation.since)}
                {i.mitigation.until ? ` until ${when(i.mitigation.until)}` : ""} (released on {i.mitigation.releaseOn}).
              </p>
            ) : (
              <p class="muted">No mitigation in force.</p>
            )}
            {i.approval ? (
              <div class="notice" role="status">
                <p>
                  Pending approval: {i.approval.actions.join(", ")} ({i.approval.reason}). If nobody decides by{" "}
                  {when(i.approval.expiresAt)}: {i.approval.onTimeout}.
                </p>
                <button type="button" disabled={busy !== ""} onClick={() => void act("approve")}>
                  Approve actions
                </button>{" "}
                <button type="button" class="secondary" disabled={busy !== ""} onClick={() => void act("deny")}>
                  Deny actions
                </button>
              </div>
            ) : null}
            <div class="actions">
              {i.mitigation ? (
                <button type="button" disabled={busy !== ""} onClick={() => void act("release")}>
                  Release {i.mitigation.kind}
                </button>
              ) : null}
              {i.state !== "resolved" && i.state !== "closed" ? (
                <button type="button" class="secondary" disabled={busy !== ""} onClick={() => void act("resolve")}>
                  Mark resolved
                </button>
              ) : null}
              {i.state !== "closed" ? (
                <button type="button" class="secondary" disabled={busy !== ""} onClick={() => void act("close")}>
                  Close
                </button>
              ) : null}
            </div>
            {done ? (
              <p role="status" class="muted">
                {done}
              </p>
            ) : null}
            <ErrorBox error={actionError} what="act on the incident" />
            <form
              onSubmit={(e) => {
                e.preventDefault();
                void act("notes", { text: note }).then(() => setNote(""));
              }}
            >
              <label>
                Add a note
                <input value={note} onInput={(e) => setNote(e.currentTarget.value)} maxLength={4000} required />
              </label>
              <button type="submit" class="secondary">
                Add note
              </button>
            </form>
          </Section>
          <Section title="Timeline">
            <ol class="timeline">
              {i.timeline.map((e, n) => (
                <li key={`${e.at}-${n}`}>
                  <time>{when(e.at)}</time> <span class="event-name">{e.kind}</span> {e.summary}{" "}
                  <span class="muted">by {e.by}</span>
                </li>
              ))}
            </ol>
          </Section>
        </>
      ) : null}
    </>
  );
}
