import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { ApiError } from "./api.js";

/** Loads data from the API; `reload` fetches again (e.g. after a live event). */
export function useApi<T>(load: () => Promise<T>, deps: readonly unknown[] = []) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const reload = useCallback(() => {
    const mine = ++seq.current;
    setLoading(true);
    load().then(
      (d) => {
        if (mine !== seq.current) return;
        setData(d);
        setError(undefined);
        setLoading(false);
      },
      (e: unknown) => {
        if (mine !== seq.current) return;
        setError(e);
        setLoading(false);
      },
    );
  }, deps);
  useEffect(reload, [reload]);
  return { data, error, loading, reload };
}

/** An error in plain words, with what to do next. */
export function ErrorBox({ error, what }: { error: unknown; what?: string }) {
  if (error === undefined || error === null) return null;
  const e = error instanceof ApiError ? error : undefined;
  let next = e?.hint;
  if (e?.code === "AUTH_PERMISSION_DENIED") next = "Your role does not allow this page. Ask an admin for a role that does.";
  if (e?.code === "NETWORK") next = "Check that Vigil is running, then reload the page.";
  return (
    <div class="error" role="alert">
      <strong>{what ? `Could not ${what}: ` : ""}</strong>
      {e ? e.message : error instanceof Error ? error.message : "an unexpected error occurred"}
      {next ? <p class="hint">What to do: {next}</p> : null}
      {e?.code ? <p class="code">Error code {e.code}</p> : null}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status">
      Loading {what}…
    </p>
  );
}

export function Badge({ value, kind }: { value: string; kind?: string }) {
  return <span class={`badge badge-${kind ?? value.replace(/[^a-z0-9-]/gi, "").toLowerCase()}`}>{value}</span>;
}

export function Section({ title, children, id }: { title: string; children: ComponentChildren; id?: string }) {
  return (
    <section class="card" aria-labelledby={id ?? undefined}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

export function Stat({ label, value, note }: { label: string; value: ComponentChildren; note?: string }) {
  return (
    <div class="stat">
      <div class="stat-value">{value}</div>
      <div class="stat-label">{label}</div>
      {note ? <div class="stat-note">{note}</div> : null}
    </div>
  );
}

/** A navigation link inside the single-page app. */
export function Link(props: { href: string; children: ComponentChildren; class?: string | undefined; current?: boolean }) {
  const { href, children, class: cls, current } = props;
  return (
    <a
      href={`/console/${href}`}
      class={cls}
      aria-current={current === true ? "page" : undefined}
      onClick={(e) => {
        if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </a>
  );
}

export function navigate(href: string): void {
  history.pushState(null, "", `/console/${href}`);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

export interface Series {
  readonly label: string;
  readonly color: string;
  readonly values: readonly (number | null)[];
}

/**
 * A uPlot chart: x is time in seconds (or an index with `categories`), one line or bar set per
 * series. It sizes itself to its container and redraws when the data change.
 */
export function Chart(props: {
  title: string;
  x: readonly number[];
  series: readonly Series[];
  height?: number;
  bars?: boolean;
  categories?: readonly string[];
}) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const { x, series, bars, categories } = props;
  useEffect(() => {
    const el = host.current;
    if (el === null) return undefined;
    const width = Math.max(280, el.clientWidth);
    const opts: uPlot.Options = {
      title: props.title,
      width,
      // The series names only (no hover read-out); bar charts are labelled on their axis.
      legend: { show: categories === undefined || series.length > 1, live: false },
      height: props.height ?? 220,
      scales: { x: { time: categories === undefined } },
      axes: [
        categories === undefined
          ? { stroke: "#c9d1d9", grid: { stroke: "#30363d" } }
          : {
              stroke: "#c9d1d9",
              grid: { show: false },
              splits: () => categories.map((_c, i) => i),
              values: () => [...categories],
            },
        { stroke: "#c9d1d9", grid: { stroke: "#30363d" } },
      ],
      series: [
        {},
        ...series.map((s, i) => ({
          label: s.label,
          stroke: s.color,
          fill: bars ? s.color : `${s.color}33`,
          width: 2,
          // Two bar series stand side by side around each category.
          ...(bars
            ? {
                paths: uPlot.paths.bars?.(
                  series.length > 1 ? { size: [0.35, 60], align: i === 0 ? -1 : 1 } : { size: [0.6, 80] },
                ),
                points: { show: false },
              }
            : {}),
        })),
      ],
    };
    const data = [x.slice(), ...series.map((s) => s.values.slice())] as uPlot.AlignedData;
    plot.current?.destroy();
    plot.current = new uPlot(opts, data, el);
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(280, el.clientWidth), height: opts.height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = undefined;
    };
  }, [x, series, bars, categories, props.title, props.height]);
  return <div class="chart" ref={host} role="img" aria-label={props.title} />;
}
