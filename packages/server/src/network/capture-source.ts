import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { Readable } from "node:stream";
import { CaptureReader, type CaptureFormat, type CaptureReaderOptions, type PacketRecord } from "./capture-reader.js";

export interface ReadCaptureOptions extends CaptureReaderOptions {
  readonly signal?: AbortSignal;
  /** Called after each chunk with the bytes consumed so far (for progress bars). */
  readonly onChunk?: (bytes: number) => void;
}

export interface CaptureSummary {
  readonly packets: number;
  readonly bytes: number;
  readonly format: CaptureFormat | undefined;
  readonly linkTypes: number[];
}

/**
 * Streams a capture (a path, `-` for stdin, or any readable) through a `CaptureReader`.
 * Resolves when the input ends; rejects with the reader's `CAPTURE_*` error after every
 * good packet before the fault has been delivered to `onPacket`.
 */
export async function readCapture(
  input: string | Readable,
  onPacket: (packet: PacketRecord) => void,
  options: ReadCaptureOptions = {},
): Promise<CaptureSummary> {
  const reader = new CaptureReader(onPacket, options);
  const stream: Readable =
    typeof input !== "string" ? input : input === "-" ? process.stdin : createReadStream(input, { highWaterMark: 256 * 1024 });
  try {
    for await (const chunk of stream) {
      options.signal?.throwIfAborted();
      reader.push(typeof chunk === "string" ? Buffer.from(chunk, "latin1") : (chunk as Buffer));
      options.onChunk?.(reader.consumed);
    }
    reader.end();
  } finally {
    if (typeof input === "string" && input !== "-") stream.destroy();
  }
  return { packets: reader.packets, bytes: reader.consumed, format: reader.format, linkTypes: reader.linkTypes };
}

/** Size of a capture file in bytes, or undefined for stdin (for a progress bar's total). */
export async function captureSize(input: string): Promise<number | undefined> {
  if (input === "-") return undefined;
  const s = await stat(input);
  return s.isFile() ? s.size : undefined;
}
