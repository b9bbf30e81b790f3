export { probeServer, DeviceSdkError } from "./server-probe.js";
