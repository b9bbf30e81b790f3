import { pino, type Logger, type DestinationStream, type LevelWithSilent } from "pino";

export type { Logger };

/**
 * Paths that must never reach a log line, wherever they appear (STYLE habit 10/13).
 * Redaction is belt-and-braces: code logs ids, not secrets.
 */
const REDACT = [
  "password",
  "*.password",
  "newPassword",
  "*.newPassword",
  "currentPassword",
  "*.currentPassword",
  "token",
  "*.token",
  "secret",
  "*.secret",
  "privateKey",
  "*.privateKey",
  "req.headers.authorization",
  "req.headers.cookie",
  "headers.authorization",
];

export interface LogOptions {
  readonly level: LevelWithSilent;
  readonly destination?: DestinationStream;
}

export function createRootLogger(options: LogOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { app: "vigil" },
      redact: { paths: REDACT, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}

/** One child logger per module (STYLE habit 13). */
export function moduleLogger(root: Logger, module: string): Logger {
  return root.child({ module });
}
