import { SingleBar } from "cli-progress";
import { Option, type Command } from "commander";
import { createWriteStream } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { basename } from "node:path";
import { InProcessBus, VigilError } from "../core/index.js";
import {
  AssetInventory,
  FingerprintModel,
  analyzeCapture,
  builtinFingerprints,
  captureSize,
  crossValidate,
  decodePacket,
  fingerprintCaptures,
  newDecodedPacket,
  readCapture,
  writeReport,
  type AnomalyAlert,
} from "../network/index.js";
import type { SignalMap } from "../signals/index.js";
import { printTable } from "./output.js";

/**
 * `vigil net ...`: packet captures in, hosts, device types and attacks out (docs/network.md).
 * These commands work offline, on a file or on stdin (`tcpdump -w - | vigil net watch -`);
 * they do not need a running Vigil.
 */

interface NetGlobals {
  json?: boolean;
}

async function loadModel(file: string | undefined): Promise<FingerprintModel | undefined> {
  if (file === undefined) return builtinFingerprints ? new FingerprintModel(builtinFingerprints) : undefined;
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new VigilError("NET_MODEL_INVALID", `cannot read the fingerprint model ${file}: ${(error as Error).message}`, {
      hint: "Give a JSON file written by `vigil net fingerprints DIR --out FILE`.",
      cause: error,
    });
  }
  return FingerprintModel.parse(json);
}

function positiveInt(flag: string, raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < 1) {
    throw new VigilError("CONFIG_INVALID", `${flag} must be a whole number >= 1, not ${JSON.stringify(raw)}`, {
      hint: `For example ${flag} 10000.`,
    });
  }
  return n;
}

function positiveNumber(flag: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0)
    throw new VigilError("CONFIG_INVALID", `${flag} must be a positive number, not ${JSON.stringify(raw)}`, {
      hint: `For example ${flag} 4.`,
    });
  return n;
}

function alertLine(a: AnomalyAlert): string {
  const d = a.deviations[0];
  return `${new Date(a.start * 1000).toISOString()}  ALERT #${a.id}  ${a.src} -> ${a.dst}  ${a.protocol}  score ${a.maxScore.toPrecision(4)} (threshold ${a.threshold.toPrecision(3)})${d ? `  most deviant: ${d.description} = ${d.value} (trained ${d.trainedMin}..${d.trainedMax})` : ""}`;
}

export function registerNetCommands(program: Command): void {
  const globals = () => program.opts<NetGlobals>();
  const net = program
    .command("net")
    .description("Analyse network traffic: discover hosts, identify device types, detect attacks in packet captures.");

  net
    .command("analyze <file>")
    .description("Analyse a pcap/pcapng capture (`-` for stdin): anomaly scores, alerts, hosts; writes a JSON + HTML report.")
    .option("--report <dir>", "write report.json and report.html into this directory", "vigil-net-report")
    .option("--scores <file>", "also write one line per packet: index,timestamp,score")
    .option("--train <packets>", "packets the detector learns from before scoring", "10000")
    .option("--sigmas <n>", "alert threshold: mean + n standard deviations of the log scores seen in training", "4")
    .option("--model <file>", "device fingerprint model (default: the built-in one)")
    .option("--no-progress", "no progress bar")
    .action(
      async (
        file: string,
        o: { report: string; scores?: string; train: string; sigmas: string; model?: string; progress: boolean },
      ) => {
        const trainPackets = positiveInt("--train", o.train);
        const sigmas = positiveNumber("--sigmas", o.sigmas);
        const model = await loadModel(o.model);
        const total = await captureSize(file);
        const bar =
          o.progress && total !== undefined && process.stderr.isTTY
            ? new SingleBar({
                format: "{bar} {percentage}% | {packets} packets | {rate} packets/s | ETA {eta}s",
                stream: process.stderr,
                hideCursor: true,
              })
            : undefined;
        const started = performance.now();
        bar?.start(total ?? 0, 0, { packets: 0, rate: 0 });
        const scores = o.scores !== undefined ? createWriteStream(o.scores) : undefined;
        let result;
        try {
          result = await analyzeCapture(file, {
            trainPackets,
            sigmas,
            source: file === "-" ? "stdin" : basename(file),
            ...(model ? { model } : {}),
            ...(scores ? { scores: (text: string) => scores.write(text) } : {}),
            onProgress: (bytes, packets) =>
              bar?.update(bytes, { packets, rate: Math.round(packets / Math.max(1e-3, (performance.now() - started) / 1000)) }),
          });
        } finally {
          bar?.stop();
          if (scores) await new Promise<void>((resolve, reject) => scores.end((e?: Error | null) => (e ? reject(e) : resolve())));
        }
        const files = await writeReport(o.report, result);
        const seconds = (performance.now() - started) / 1000;
        const summary = {
          packets: result.packets,
          seconds: Number(seconds.toFixed(2)),
          packetsPerSecond: Math.round(result.packets / Math.max(seconds, 1e-3)),
          trained: !result.detector.training,
          threshold: Number.isFinite(result.threshold) ? result.threshold : null,
          alerts: result.alerts.length,
          hosts: result.inventory.size,
          report: files,
          ...(o.scores ? { scores: o.scores } : {}),
          error: result.error ?? null,
        };
        if (globals().json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
        else {
          const lines = [
            `${result.packets} packets in ${summary.seconds} s (${summary.packetsPerSecond} packets/s)`,
            summary.trained
              ? `trained on ${trainPackets} packets; threshold ${result.threshold.toPrecision(4)}; ${result.alerts.length} alert(s)`
              : `the capture ended during training (${result.packets} of ${trainPackets} packets): nothing was scored; try a smaller --train`,
            `${result.inventory.size} host(s)`,
            `report: ${files.html}`,
            ...result.alerts.slice(0, 10).map(alertLine),
            ...(result.alerts.length > 10 ? [`... ${result.alerts.length - 10} more in the report`] : []),
          ];
          process.stdout.write(`${lines.join("\n")}\n`);
        }
        if (result.error) {
          // The report holds everything before the fault; still say so and fail.
          throw new VigilError(result.error.code as "CAPTURE_TRUNCATED", result.error.message, {
            hint: `The report in ${o.report} covers the ${result.packets} packets before the fault.`,
          });
        }
      },
    );

  net
    .command("watch <file>")
    .description("Follow a live capture (`tcpdump -w - | vigil net watch -`): print hosts and alerts as they happen.")
    .option("--train <packets>", "packets the detector learns from before alerting", "10000")
    .option("--sigmas <n>", "alert threshold in standard deviations of the log scores seen in training", "4")
    .option("--model <file>", "device fingerprint model (default: the built-in one)")
    .action(async (file: string, o: { train: string; sigmas: string; model?: string }) => {
      const trainPackets = positiveInt("--train", o.train);
      const sigmas = positiveNumber("--sigmas", o.sigmas);
      const model = await loadModel(o.model);
      const bus = new InProcessBus<SignalMap>();
      const json = globals().json === true;
      const print = (line: string) => process.stdout.write(`${line}\n`);
      bus.on("asset.discovered", (s) =>
        print(
          json
            ? JSON.stringify({ signal: "asset.discovered", ...s })
            : `${s.firstSeen}  NEW HOST  mac ${s.mac ?? "-"}  ip ${s.ip ?? "-"}`,
        ),
      );
      bus.on("asset.identified", (s) =>
        print(
          json
            ? JSON.stringify({ signal: "asset.identified", ...s })
            : `IDENTIFIED  mac ${s.mac ?? "-"}  ip ${s.ip ?? "-"}  ${s.deviceType} (confidence ${s.confidence})`,
        ),
      );
      bus.on("network.anomaly_detected", (s) => {
        if (json) print(JSON.stringify({ signal: "network.anomaly_detected", ...s }));
      });
      let trainedSaid = false;
      const controller = new AbortController();
      process.once("SIGINT", () => controller.abort(new Error("interrupted")));
      const result = await analyzeCapture(file, {
        trainPackets,
        sigmas,
        source: file === "-" ? "stdin" : basename(file),
        signals: bus,
        signal: controller.signal,
        ...(model ? { model } : {}),
        onAlert: (a, opened) => {
          if (!json && opened) print(alertLine(a));
        },
        onProgress: (_bytes, packets) => {
          if (!trainedSaid && packets >= trainPackets && !json) {
            trainedSaid = true;
            process.stderr.write(`trained on ${trainPackets} packets: alerting from now on\n`);
          }
        },
      }).catch((error: unknown) => {
        if (controller.signal.aborted) return undefined;
        throw error;
      });
      if (result?.error)
        throw new VigilError(result.error.code as "CAPTURE_TRUNCATED", result.error.message, {
          hint: `${result.packets} packets were analysed before the fault.`,
        });
      if (result && !json)
        process.stderr.write(`${result.packets} packets, ${result.inventory.size} host(s), ${result.alerts.length} alert(s)\n`);
    });

  net
    .command("identify <file>")
    .description("List the hosts in a capture (`-` for stdin) with their identified device type and confidence, or `unknown`.")
    .option("--model <file>", "device fingerprint model (default: the built-in one)")
    .action(async (file: string, o: { model?: string }) => {
      const model = await loadModel(o.model);
      if (model === undefined) {
        throw new VigilError("NET_MODEL_INVALID", "this build has no built-in fingerprint model", {
          hint: "Give one with --model FILE (see `vigil net fingerprints`).",
        });
      }
      const inventory = new AssetInventory({ model, source: file === "-" ? "stdin" : basename(file) });
      const p = newDecodedPacket();
      let fault: Error | undefined;
      await readCapture(file, (r) => inventory.observe(decodePacket(r, p))).catch((e: unknown) => {
        fault = e instanceof Error ? e : new Error(String(e));
      });
      inventory.finish();
      const rows = inventory
        .hosts()
        .sort((a, b) => b.packets - a.packets)
        .map((h) => ({
          mac: h.mac,
          ip: [...h.ips].join(", ") || null,
          type: h.identification?.type ?? "unknown",
          confidence: h.identification?.confidence ?? 0,
          packets: h.packets,
          hostname: h.hostname ?? null,
        }));
      process.stdout.write(
        globals().json
          ? `${JSON.stringify(rows, null, 2)}\n`
          : `${rows.length === 0 ? "No hosts." : printTable(rows, ["mac", "ip", "type", "confidence", "packets", "hostname"])}\n`,
      );
      if (fault) throw fault;
    });

  net
    .command("fingerprints <dir>")
    .description("Train a device fingerprint model from DIR/<device type>/*.pcap (and report its two-fold accuracy).")
    .requiredOption("--out <file>", "where to write the model (JSON)")
    .addOption(new Option("--note <text>", "how the model was produced, kept in the file"))
    .action(async (dir: string, o: { out: string; note?: string }) => {
      const captures = await fingerprintCaptures(dir);
      const cv = crossValidate(captures);
      const traffic = crossValidate(captures, { withoutClues: true });
      const model = FingerprintModel.train(
        captures,
        o.note ?? `nearest-centroid fingerprints of ${captures.length} captures under ${basename(dir)}`,
      );
      await writeFile(o.out, `${JSON.stringify(model.data, null, 1)}\n`);
      const summary = {
        model: o.out,
        types: model.data.types.map((t) => t.type),
        captures: captures.length,
        twoFoldAccuracy: cv.accuracy,
        twoFoldAccuracyTrafficOnly: traffic.accuracy,
        errors: cv.results
          .filter((r) => r.identified.type !== r.type)
          .map((r) => ({ file: r.file, type: r.type, identified: r.identified.type })),
      };
      process.stdout.write(
        globals().json
          ? `${JSON.stringify(summary, null, 2)}\n`
          : `wrote ${o.out}: ${summary.types.length} types from ${captures.length} captures\ntwo-fold accuracy ${cv.correct}/${cv.total} (traffic features only: ${traffic.correct}/${traffic.total})\n${summary.errors.map((e) => `  ${e.file}: ${e.type} identified as ${e.identified}`).join("\n")}\n`,
      );
    });
}
