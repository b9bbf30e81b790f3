// The server package's public surface, for tools and tests in other packages.
export { Platform, loadConfig, VERSION, type VigilConfig, type PlatformOptions } from "./app/index.js";
export { createRootLogger, VigilError, isVigilError } from "./core/index.js";
