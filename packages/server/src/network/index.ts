// Network traffic analysis: capture reading, decoding, asset discovery, device-type
// identification and online packet anomaly detection (see docs/network.md).
export * from "./addresses.js";
export * from "./analysis-report.js";
export * from "./anomaly-detector.js";
export * from "./app-protocols.js";
export * from "./asset-inventory.js";
export * from "./builtin-fingerprints.js";
export * from "./capture-analysis.js";
export * from "./capture-reader.js";
export * from "./capture-source.js";
export * from "./capture-writer.js";
export * from "./damped-features.js";
export * from "./device-fingerprint.js";
export * from "./fingerprint-training.js";
export * from "./keyed-slots.js";
export * from "./kitnet.js";
export * from "./link-types.js";
export * from "./packet-decoder.js";
export * from "./capture-splice.js";
export * from "./detection-metrics.js";
export * from "./packet-builder.js";
