import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { connect as tcpConnect, type Socket } from "node:net";
import { hostname } from "node:os";
import type { Logger } from "../core/index.js";
import type { EventSink, OutgoingEvent } from "./outgoing-event.js";

export interface SyslogSinkOptions {
  readonly host: string;
  readonly port: number;
  readonly transport: "udp" | "tcp";
  /** RFC 5424 §6.2.1 facility code, 0..23 (13: log audit). */
  readonly facility: number;
  /** The HOSTNAME field; the machine's name when absent. */
  readonly hostname?: string | undefined;
  /** The CEF header's device version (Vigil's version). */
  readonly version: string;
  readonly log: Logger;
  /** Messages held while a TCP collector is unreachable (oldest dropped beyond it, and logged). */
  readonly maxQueue?: number;
}

/** RFC 5424 §6.2.1 severity of an incident's severity. */
const SYSLOG_SEVERITY: Readonly<Record<string, number>> = { critical: 2, high: 3, medium: 4, low: 5 };
/** CEF severity (0..10) of an incident's severity. */
const CEF_SEVERITY: Readonly<Record<string, number>> = { critical: 10, high: 8, medium: 5, low: 3 };

/** CEF header fields: backslash and pipe are escaped (CEF spec, "Character encoding"). */
export function cefHeader(value: string): string {
  return value
    .replace(/\\/g, "\\\\")
    .replace(/\|/g, "\\|")
    .replace(/[\r\n]+/g, " ");
}

/** CEF extension values: backslash and equals escaped, line breaks as \n and \r. */
export function cefValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/=/g, "\\=").replace(/\r/g, "\\r").replace(/\n/g, "\\n");
}

/** RFC 5424 §6: header fields are PRINTUSASCII (33..126); NILVALUE `-` when empty. */
function printable(value: string, max: number): string {
  const clean = value.replace(/[^\x21-\x7e]/g, "").slice(0, max);
  return clean === "" ? "-" : clean;
}

/** The CEF payload of one event: `CEF:0|Vigil|Vigil|version|type|name|severity|extensions`. */
export function toCef(event: OutgoingEvent, version: string): string {
  const i = event.incident;
  const d = event.detail;
  const name =
    event.type === "incident.action"
      ? `${String(d.action)} ${String(d.outcome)} on ${i.device}`
      : event.type === "incident.state_changed"
        ? `incident ${String(d.from)} -> ${String(d.to)} on ${i.device}`
        : `${event.type.replace("incident.", "incident ").replace("_", " ")} on ${i.device}`;
  const ext: [string, string][] = [
    ["rt", String(Date.parse(event.at))],
    ["externalId", event.id],
    ["cs1Label", "incident"],
    ["cs1", i.id],
    ["cs2Label", "device"],
    ["cs2", i.device],
    ["cs3Label", "state"],
    ["cs3", i.state],
    ["cs4Label", "rules"],
    ["cs4", i.rules.join(",")],
    ["cat", i.categories.join(",")],
  ];
  if (typeof d.action === "string") ext.push(["act", d.action]);
  if (typeof d.outcome === "string") ext.push(["outcome", d.outcome]);
  const msg = typeof d.detail === "string" ? d.detail : typeof d.reason === "string" ? d.reason : undefined;
  if (msg !== undefined) ext.push(["msg", msg]);
  if (i.drill !== undefined) ext.push(["cs5Label", "drill"], ["cs5", i.drill]);
  return [
    "CEF:0",
    "Vigil",
    "Vigil",
    cefHeader(version),
    cefHeader(event.type),
    cefHeader(name),
    String(CEF_SEVERITY[i.severity] ?? 5),
    ext.map(([k, v]) => `${k}=${cefValue(v)}`).join(" "),
  ].join("|");
}

/**
 * One RFC 5424 syslog message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG`, the
 * MSG a CEF record. PRI = facility × 8 + severity (§6.2.1); no structured data (NILVALUE).
 */
export function toSyslog(event: OutgoingEvent, options: Pick<SyslogSinkOptions, "facility" | "hostname" | "version">): string {
  const pri = options.facility * 8 + (SYSLOG_SEVERITY[event.incident.severity] ?? 5);
  return `<${pri}>1 ${event.at} ${printable(options.hostname ?? hostname(), 255)} vigil ${process.pid} ${printable(event.type, 32)} - ${toCef(event, options.version)}`;
}

/**
 * Syslog (RFC 5424) with CEF payloads, to a collector: UDP (RFC 5426: one message per datagram)
 * or TCP with octet-counting framing (RFC 6587 §3.4.1: `MSG-LEN SP SYSLOG-MSG`). Over TCP,
 * messages wait in order while the collector is unreachable and the connection is retried.
 */
export class SyslogSink implements EventSink {
  readonly name = "syslog";
  readonly #o: SyslogSinkOptions;
  readonly #queue: Buffer[] = [];
  #udp: UdpSocket | undefined;
  #tcp: Socket | undefined;
  #connecting: Promise<Socket> | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  #dropped = 0;

  constructor(options: SyslogSinkOptions) {
    this.#o = options;
  }

  send(event: OutgoingEvent): void {
    if (this.#stopped) return;
    const message = Buffer.from(toSyslog(event, this.#o), "utf8");
    this.#queue.push(message);
    const max = this.#o.maxQueue ?? 10_000;
    if (this.#queue.length > max) {
      this.#queue.shift();
      this.#dropped++;
      this.#o.log.warn({ dropped: this.#dropped }, "syslog queue full: oldest message dropped");
    }
    this.#running ??= this.#run().finally(() => {
      this.#running = undefined;
    });
  }

  async drain(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  async stop(): Promise<void> {
    await Promise.race([this.drain(), new Promise((r) => setTimeout(r, 2_000).unref())]);
    this.#stopped = true;
    this.#queue.length = 0;
    this.#udp?.close();
    this.#tcp?.destroy();
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (this.#queue.length > 0 && !this.#stopped) {
      const message = this.#queue[0] as Buffer;
      try {
        if (this.#o.transport === "udp") await this.#sendUdp(message);
        else await this.#sendTcp(message);
        this.#queue.shift();
        failures = 0;
      } catch (error) {
        failures++;
        this.#o.log.warn({ err: error, failures }, "syslog delivery failed; retrying");
        this.#tcp?.destroy();
        this.#tcp = undefined;
        if (this.#o.transport === "udp" && failures >= 3) this.#queue.shift();
        await new Promise((r) => setTimeout(r, Math.min(5_000, 50 * 2 ** Math.min(failures, 7))));
      }
    }
  }

  #sendUdp(message: Buffer): Promise<void> {
    this.#udp ??= createSocket(this.#o.host.includes(":") ? "udp6" : "udp4").unref();
    const udp = this.#udp;
    return new Promise((resolve, reject) =>
      udp.send(message.subarray(0, 65_000), this.#o.port, this.#o.host, (error) => (error ? reject(error) : resolve())),
    );
  }

  async #sendTcp(message: Buffer): Promise<void> {
    const socket = this.#tcp ?? (await this.#connect());
    const framed = Buffer.concat([Buffer.from(`${message.length} `, "ascii"), message]);
    await new Promise<void>((resolve, reject) => socket.write(framed, (error) => (error ? reject(error) : resolve())));
  }

  #connect(): Promise<Socket> {
    this.#connecting ??= new Promise<Socket>((resolve, reject) => {
      const socket = tcpConnect({ host: this.#o.host, port: this.#o.port });
      socket.setNoDelay(true);
      socket.once("connect", () => {
        socket.removeListener("error", reject);
        socket.on("error", (error) => this.#o.log.warn({ err: error }, "syslog connection error"));
        socket.on("close", () => {
          if (this.#tcp === socket) this.#tcp = undefined;
        });
        socket.unref();
        this.#tcp = socket;
        resolve(socket);
      });
      socket.once("error", reject);
    }).finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }
}
