export * from "./ports.js";
export * from "./enrollment-service.js";
export { parsePosture, encodePosture, Posture, POSTURE_HEADER } from "./posture.js";
export { parsePreregistrationCsv } from "./preregistration.js";
export type { ReadmissionReason, ReadmissionRecord, ReadmissionRepository } from "./readmission.js";
