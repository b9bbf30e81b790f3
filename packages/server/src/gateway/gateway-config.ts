import { z } from "zod";

/** Defaults of the `mqtt` section, also what an absent section means. */
export const MQTT_DEFAULTS = Object.freeze({
  enabled: true,
  handshakeTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  maxConnectionsPerSource: 100,
  throttleDropsBeforeDisconnect: 1000,
  legacyPasswordAuth: false,
  persistence: "memory",
});

/**
 * The gateway's slice of the configuration (STYLE habit 4). `port` and `host` have no
 * static default: the platform resolves them (8883 and the API's host, or an ephemeral port
 * when the API's is ephemeral) so that test and embedded instances never collide on 8883.
 */
export const mqttConfigSchema = z
  .object({
    enabled: z.boolean().default(MQTT_DEFAULTS.enabled).describe("Run the MQTT gateway (MQTT 3.1.1 over mutual TLS)."),
    host: z.string().min(1).optional().describe("Address the MQTT gateway binds. Default: the API's host (http.host)."),
    port: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .optional()
      .describe(
        "TCP port of the MQTT gateway. Default 8883 (MQTT over TLS); 0 when http.port is 0 (tests); 0 picks a free port.",
      ),
    handshakeTimeoutMs: z
      .number()
      .int()
      .min(100)
      .max(120_000)
      .default(MQTT_DEFAULTS.handshakeTimeoutMs)
      .describe("A connection whose TLS handshake has not completed by then is destroyed."),
    connectTimeoutMs: z
      .number()
      .int()
      .min(100)
      .max(120_000)
      .default(MQTT_DEFAULTS.connectTimeoutMs)
      .describe("After the TLS handshake, a CONNECT packet must arrive within this time or the connection is closed."),
    maxConnectionsPerSource: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(MQTT_DEFAULTS.maxConnectionsPerSource)
      .describe(
        "New connections accepted per second from one source address (token bucket, burst the same); more are closed before the TLS handshake.",
      ),
    throttleDropsBeforeDisconnect: z
      .number()
      .int()
      .min(1)
      .max(10_000_000)
      .default(MQTT_DEFAULTS.throttleDropsBeforeDisconnect)
      .describe(
        "Messages over its rate a device may have dropped (refilled over 10 s) before it is disconnected for sustained flooding.",
      ),
    legacyPasswordAuth: z
      .boolean()
      .default(MQTT_DEFAULTS.legacyPasswordAuth)
      .describe(
        "Let legacy devices without a certificate connect with username (= client id = device id) and the password an operator set (argon2id), over server-authenticated TLS; marked legacy (lower trust). Never plaintext.",
      ),
    persistence: z
      .enum(["memory", "redis"])
      .default(MQTT_DEFAULTS.persistence)
      .describe(
        "Where MQTT sessions live (subscriptions, QoS 1 offline queues, in-flight and retained messages). memory: lost on restart. redis: in cluster.redisUrl (aedes-persistence-redis), kept across a restart and shared by every gateway node; needed for transport redis.",
      ),
  })
  .strict();

export type MqttConfig = Readonly<z.infer<typeof mqttConfigSchema>>;
