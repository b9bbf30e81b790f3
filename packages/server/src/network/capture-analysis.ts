import type { Readable } from "node:stream";
import { isVigilError } from "../core/index.js";
import type { SignalBus } from "../signals/index.js";
import { AnomalyDetector, type AnomalyAlert } from "./anomaly-detector.js";
import { AssetInventory, type KnownDevices } from "./asset-inventory.js";
import { captureErrorOffset } from "./capture-reader.js";
import { readCapture, type CaptureSummary } from "./capture-source.js";
import type { FingerprintModel } from "./device-fingerprint.js";
import { decodePacket, newDecodedPacket } from "./packet-decoder.js";

/**
 * One pass over a capture: decode every packet, feed the asset inventory and the anomaly
 * detector, keep a bounded score series for the plot, and optionally stream every score out
 * (`index,timestamp,score`). A capture that ends badly still yields a report of everything
 * before the fault, with the fault in it.
 */

export interface AnalysisOptions {
  /** Packets the detector learns from before it scores (10% feature mapping, 90% autoencoders). */
  readonly trainPackets: number;
  readonly sigmas?: number;
  readonly threshold?: number;
  readonly model?: FingerprintModel;
  readonly known?: KnownDevices;
  readonly signals?: Pick<SignalBus, "emit">;
  readonly source: string;
  /** Receives CSV text of the scores in chunks (header first). */
  readonly scores?: (text: string) => void;
  readonly onProgress?: (bytes: number, packets: number) => void;
  readonly onAlert?: (alert: AnomalyAlert, opened: boolean) => void;
  readonly signal?: AbortSignal;
}

export interface ScorePoint {
  /** Seconds since the epoch of the bucket's first packet. */
  readonly t: number;
  /** Highest score in the bucket. */
  readonly max: number;
  readonly firstPacket: number;
}

export interface AnalysisResult {
  readonly source: string;
  readonly summary: CaptureSummary | undefined;
  readonly packets: number;
  readonly firstTs: number;
  readonly lastTs: number;
  readonly trainPackets: number;
  readonly threshold: number;
  readonly scored: number;
  readonly alerts: AnomalyAlert[];
  readonly inventory: AssetInventory;
  readonly detector: AnomalyDetector;
  readonly series: ScorePoint[];
  /** The fault that ended the capture early, if any. */
  readonly error?: { code: string; message: string; offset: number | undefined };
}

const SERIES_MAX = 2000;

export async function analyzeCapture(input: string | Readable, o: AnalysisOptions): Promise<AnalysisResult> {
  const fm = Math.max(1, Math.floor(o.trainPackets * 0.1));
  const detector = new AnomalyDetector({
    fmGrace: fm,
    adGrace: Math.max(1, o.trainPackets - fm),
    ...(o.sigmas !== undefined ? { sigmas: o.sigmas } : {}),
    ...(o.threshold !== undefined ? { threshold: o.threshold } : {}),
    ...(o.signals ? { signals: o.signals } : {}),
    source: o.source,
  });
  detector.onAlert = o.onAlert;
  const inventory = new AssetInventory({
    source: o.source,
    ...(o.model ? { model: o.model } : {}),
    ...(o.known ? { known: o.known } : {}),
    ...(o.signals ? { signals: o.signals } : {}),
  });
  const p = newDecodedPacket();
  // Score series: buckets of `bucket` packets; when full, pairs merge and buckets double.
  let bucket = 1;
  let series: { t: number; max: number; firstPacket: number }[] = [];
  let current: { t: number; max: number; firstPacket: number } | undefined;
  let firstTs = Number.NaN;
  let lastTs = Number.NaN;
  let scored = 0;
  let csv = o.scores ? "index,timestamp,score\n" : "";
  const flush = () => {
    if (o.scores && csv.length > 0) o.scores(csv);
    csv = "";
  };
  let summary: CaptureSummary | undefined;
  let error: AnalysisResult["error"];
  try {
    summary = await readCapture(
      input,
      (record) => {
        decodePacket(record, p);
        inventory.observe(p);
        const score = detector.process(p);
        if (Number.isNaN(firstTs)) firstTs = p.ts;
        lastTs = p.ts;
        if (!detector.training) scored++;
        if (current === undefined || p.index - current.firstPacket >= bucket) {
          current = { t: p.ts, max: score, firstPacket: p.index };
          series.push(current);
          if (series.length > SERIES_MAX) {
            const merged: typeof series = [];
            for (let i = 0; i < series.length; i += 2) {
              const a = series[i]!;
              const b = series[i + 1];
              merged.push({ t: a.t, firstPacket: a.firstPacket, max: b ? Math.max(a.max, b.max) : a.max });
            }
            series = merged;
            bucket *= 2;
            current = series[series.length - 1];
          }
        } else if (score > current.max) current.max = score;
        if (o.scores) {
          csv += `${p.index},${p.ts.toFixed(6)},${score}\n`;
          if (csv.length > 65536) flush();
        }
      },
      {
        ...(o.signal ? { signal: o.signal } : {}),
        onChunk: (bytes) => o.onProgress?.(bytes, detector.processed),
      },
    );
  } catch (e) {
    if (!isVigilError(e)) throw e;
    error = { code: e.code, message: e.message, offset: captureErrorOffset(e) };
  }
  flush();
  inventory.finish();
  return {
    source: o.source,
    summary,
    packets: detector.processed,
    firstTs,
    lastTs,
    trainPackets: o.trainPackets,
    threshold: detector.threshold,
    scored,
    alerts: detector.alerts,
    inventory,
    detector,
    series,
    ...(error ? { error } : {}),
  };
}
