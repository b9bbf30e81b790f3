import type { DeviceId } from "../core/index.js";
import type { ControlChannel } from "./ports.js";

/** What the gateway offers: in-process publish to a device's control channel and subscriptions. */
export interface CommandGateway {
  sendCommand(deviceId: string, payload: object, options?: { qos?: 0 | 1 }): Promise<{ online: boolean }>;
  subscribe(filter: string, handler: (topic: string, payload: Buffer) => void): Promise<() => Promise<void>>;
}

/**
 * The control channel over the MQTT gateway: the command goes to `vigil/{device}/cmd` (QoS 1);
 * the device answers on `vigil/{device}/ack` with a JSON object carrying the command's `type`
 * and `ref` (the SDK's `ReprovisionAgent` does). No answer within `timeoutMs`: false.
 */
export function gatewayControlChannel(gateway: CommandGateway): ControlChannel {
  return {
    async deliver(device: DeviceId, command, timeoutMs): Promise<boolean> {
      let settle: (acknowledged: boolean) => void = () => undefined;
      const answered = new Promise<boolean>((resolve) => (settle = resolve));
      const off = await gateway.subscribe(`vigil/${device}/ack`, (_topic, payload) => {
        try {
          const ack = JSON.parse(payload.toString("utf8")) as { type?: unknown; ref?: unknown };
          if (ack.type === command.type && ack.ref === command.ref) settle(true);
        } catch {
          // Not JSON: another command's answer; the ack channel is shared.
        }
      });
      const timer = setTimeout(() => settle(false), timeoutMs);
      try {
        const { online } = await gateway.sendCommand(device, command, { qos: 1 });
        if (!online) settle(false);
        return await answered;
      } finally {
        clearTimeout(timer);
        await off();
      }
    },
  };
}
