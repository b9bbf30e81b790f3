import type { Scope } from "@vigil/contract";
import type { Role } from "./ports.js";

/**
 * What a route may ask of its caller (RBAC). Every non-public route declares exactly one;
 * a route that declares none is refused to everyone (deny by default).
 */
export const PERMISSIONS = {
  /** Own account: whoami, password, second factors, logout, own API tokens. */
  self: { scope: "read", meaning: "Manage one's own account, second factors and tokens." },
  "status:read": { scope: "read", meaning: "See what is running and how much it holds." },
  "devices:read": { scope: "read", meaning: "See devices and their certificates (of one's sites)." },
  "devices:write": { scope: "write", meaning: "Register and pre-register devices (into one's sites)." },
  "devices:revoke": { scope: "write", meaning: "Revoke devices and their certificates (of one's sites)." },
  "enrollment:read": { scope: "read", meaning: "See claim tokens (never their secrets), manufacturer CAs and the CA." },
  "enrollment:write": { scope: "write", meaning: "Create claim tokens." },
  "manufacturers:write": { scope: "admin", meaning: "Trust or revoke manufacturer CAs." },
  "profiles:read": { scope: "read", meaning: "See device profiles." },
  "profiles:write": { scope: "write", meaning: "Add or change device profiles." },
  "firmware:read": { scope: "read", meaning: "See firmware artifacts and campaigns." },
  "firmware:write": { scope: "write", meaning: "Upload signed firmware and run update campaigns." },
  "incidents:read": { scope: "read", meaning: "See detections, incidents and trust scores." },
  "incidents:write": { scope: "write", meaning: "Act on incidents: quarantine, re-admit, run playbooks." },
  "audit:read": { scope: "read", meaning: "Read the audit log and compliance evidence." },
  "operators:read": { scope: "read", meaning: "See operator accounts." },
  "operators:write": { scope: "admin", meaning: "Create, disable and enable operators; reset their second factors." },
  "keys:rotate": { scope: "admin", meaning: "Rotate the master key." },
} as const satisfies Record<string, { scope: Scope; meaning: string }>;

export type Permission = keyof typeof PERMISSIONS;

const ALL = Object.keys(PERMISSIONS) as Permission[];

/** The one table of roles to permissions (docs/operators.md shows it). */
export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  admin: ALL,
  "security-operator": [
    "self",
    "status:read",
    "devices:read",
    "devices:write",
    "devices:revoke",
    "enrollment:read",
    "enrollment:write",
    "profiles:read",
    "firmware:read",
    "incidents:read",
    "incidents:write",
    "audit:read",
  ],
  "fleet-operator": [
    "self",
    "status:read",
    "devices:read",
    "devices:write",
    "devices:revoke",
    "enrollment:read",
    "enrollment:write",
    "profiles:read",
    "firmware:read",
    "firmware:write",
    "incidents:read",
  ],
  auditor: [
    "self",
    "status:read",
    "devices:read",
    "enrollment:read",
    "profiles:read",
    "firmware:read",
    "incidents:read",
    "audit:read",
    "operators:read",
  ],
  "device-integrator": ["self", "profiles:read", "profiles:write", "firmware:read", "firmware:write"],
};

export const ROLES = Object.keys(ROLE_PERMISSIONS) as Role[];

export function isRole(value: string): value is Role {
  return Object.hasOwn(ROLE_PERMISSIONS, value);
}

export function roleAllows(role: Role, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].includes(permission);
}

/** The token scopes a role may hold: those its permissions need. */
export function roleScopes(role: Role): Scope[] {
  const scopes = new Set(ROLE_PERMISSIONS[role].map((p) => PERMISSIONS[p].scope));
  return (["read", "write", "admin"] as const).filter((s) => scopes.has(s));
}

/**
 * MFA is mandatory for every role that can change anything. An auditor (read-only) may log
 * in with a password alone unless `requireForAuditors`; one who enrolled a factor must use it.
 */
export function roleRequiresMfa(role: Role, requireForAuditors: boolean): boolean {
  return role !== "auditor" || requireForAuditors;
}

export const ALL_SITES = "*";
export const DEFAULT_SITE = "default";

/** Whether an operator bound to `sites` may see something of `site`. */
export function siteAllowed(sites: readonly string[], site: string): boolean {
  return sites.includes(ALL_SITES) || sites.includes(site);
}

/** The site filter for queries: undefined means every site. */
export function siteFilter(sites: readonly string[]): readonly string[] | undefined {
  return sites.includes(ALL_SITES) ? undefined : sites;
}
