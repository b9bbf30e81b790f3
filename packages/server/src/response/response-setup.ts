import { readFile } from "node:fs/promises";
import { VigilError, type Clock, type Logger } from "../core/index.js";
import type { SignalBus } from "../signals/index.js";
import { JsonLinesSink } from "./json-lines-sink.js";
import type { EventSink } from "./outgoing-event.js";
import { defaultPlaybooks, parsePlaybooks, type Playbook } from "./playbook.js";
import type { ResponseConfig } from "./response-config.js";
import { SyslogSink } from "./syslog-sink.js";
import { WebhookSink, type DeadLetterRepository } from "./webhook-sink.js";

/** The operator's playbooks (`response.playbooksFile`) first, then the defaults of each vertical. */
export async function responsePlaybooks(config: Pick<ResponseConfig, "playbooksFile">): Promise<Playbook[]> {
  const defaults = defaultPlaybooks();
  if (config.playbooksFile === undefined) return defaults;
  let text: string;
  try {
    text = await readFile(config.playbooksFile, "utf8");
  } catch (error) {
    throw new VigilError("PLAYBOOK_INVALID", `cannot read playbooks file ${config.playbooksFile}: ${(error as Error).message}`, {
      cause: error,
      hint: "Check response.playbooksFile.",
    });
  }
  const own = parsePlaybooks(text, config.playbooksFile);
  const ids = new Set(own.map((p) => p.id));
  return [...own, ...defaults.filter((p) => !ids.has(p.id))];
}

/** The sinks the configuration asks for: a signed webhook, a JSON-lines file. */
export async function responseSinks(
  config: ResponseConfig,
  deps: { deadLetters: DeadLetterRepository; bus: SignalBus; clock: Clock; log: Logger; version?: string },
): Promise<EventSink[]> {
  const sinks: EventSink[] = [];
  if (config.webhookUrl !== undefined && config.webhookSecretFile !== undefined) {
    let secret: Buffer;
    try {
      secret = Buffer.from((await readFile(config.webhookSecretFile, "utf8")).trim(), "utf8");
    } catch (error) {
      throw new VigilError("CONFIG_INVALID", `cannot read response.webhookSecretFile: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (secret.length < 16) {
      throw new VigilError("CONFIG_INVALID", "response.webhookSecretFile holds fewer than 16 bytes", {
        hint: "Use a random secret, e.g. `openssl rand -hex 32 > webhook.secret`.",
      });
    }
    sinks.push(
      new WebhookSink({
        url: config.webhookUrl,
        secret,
        maxAttempts: config.webhookMaxAttempts,
        backoffMs: config.webhookBackoffMs,
        timeoutMs: config.webhookTimeoutMs,
        deadLetters: deps.deadLetters,
        bus: deps.bus,
        clock: deps.clock,
        log: deps.log,
      }),
    );
  }
  if (config.siemFile !== undefined) sinks.push(new JsonLinesSink(config.siemFile, deps.log));
  if (config.syslogHost !== undefined) {
    sinks.push(
      new SyslogSink({
        host: config.syslogHost,
        port: config.syslogPort,
        transport: config.syslogTransport,
        facility: config.syslogFacility,
        hostname: config.syslogHostname,
        version: deps.version ?? "0",
        log: deps.log,
      }),
    );
  }
  return sinks;
}
