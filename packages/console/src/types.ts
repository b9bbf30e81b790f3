/**
 * Console-side views of responses whose types the contract package does not export (the
 * compliance report's JSON and the console's own read-only routes). Only the fields shown.
 */
export interface GatewaySessions {
  items: { device: string; remote: string; serial: string; profile: string | null; tier: string | null; legacy: boolean }[];
}

export interface DetectionView {
  id: string;
  device: string;
  rule: string;
  severity: string;
  category: string;
  confidence: number;
  at: string;
  action: string;
  detectToBlockMs: number | null;
  evidence: Record<string, unknown>;
}

export interface ProfileView {
  id: string;
  description: string;
  vertical: string;
  safetyCritical: boolean;
  publish: string[];
  subscribe: string[];
  maxMessagesPerSecond: number;
  burst: number;
  maxPayloadBytes: number;
  maxQos: number;
  retainAllowed: boolean;
  sensitivePayload: boolean;
}

export interface ComplianceReportView {
  generatedAt: string;
  fleet: { devices: number; byState: Record<string, number>; byProfile: Record<string, number> };
  scorecard: {
    verticalTitle: string;
    overall: number | null;
    controlsPassing: number | null;
    outcomes: { outcome: string; pillar: string; weight: number; score: number | null }[];
  };
  auditChecks: {
    summary: Record<string, number>;
    results: { id: string; title: string; severity: string; status: string; summary: string; remediation: string }[];
  };
  frameworks: {
    id: string;
    title: string;
    summary: Record<string, number>;
    controls: { ref: string; title: string; status: string; criterion: string; reason: string | null; evidence: unknown[] }[];
  }[];
}

/** `GET /api/v1/network/assets` (api/routes/fleet-views.ts). */
export interface AssetView {
  readonly key: string;
  readonly mac: string | null;
  readonly ip: string | null;
  readonly status: "enrolled" | "identified" | "unknown";
  readonly device: string | null;
  readonly deviceType: string | null;
  readonly confidence: number | null;
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly anomalies: number;
  readonly source: string;
}
