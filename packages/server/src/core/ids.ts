import { randomBytes } from "node:crypto";

declare const brand: unique symbol;
/** A nominal type: a `string` or `number` that has been parsed once at an edge. */
export type Brand<T, B extends string> = T & { readonly [brand]: B };

export type DeviceId = Brand<string, "DeviceId">;
export type OperatorId = Brand<string, "OperatorId">;
export type TokenId = Brand<string, "TokenId">;
export type Millis = Brand<number, "Millis">;

/** Device ids become certificate CNs, MQTT client ids and topic segments: keep them safe for all three. */
const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function parseDeviceId(value: string): DeviceId | undefined {
  return DEVICE_ID.test(value) ? (value as DeviceId) : undefined;
}

export function millis(value: number): Millis {
  return value as Millis;
}

/** A random, URL-safe identifier with a readable prefix, e.g. `op_3fK9...`. */
export function newId<T extends string>(prefix: string, bytes = 12): T {
  return `${prefix}_${randomBytes(bytes).toString("base64url")}` as T;
}
