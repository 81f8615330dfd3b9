/**
 * KafkaJS's logger, as an app configures and sees it: the `logLevel` numbers, `logCreator`
 * (called once with the starting level, returning the function that receives every entry),
 * `namespace()`, `setLogLevel()`, and the KAFKAJS_LOG_LEVEL environment override.
 *
 * Apps plug their own logging into KafkaJS through logCreator and filter entries by
 * `namespace`, `level`, `label` and `log.logger`, so all of these behave as KafkaJS 2.2.4's,
 * including two quirks an app may rely on:
 * - `namespace()` always starts from the root: `logger.namespace('A').namespace('B')` logs
 *   under 'B', not 'A.B';
 * - `setLogLevel()` on any logger changes the root level, which every namespace without a
 *   level of its own follows.
 * `log.logger` stays 'kafkajs' so that filters written for KafkaJS keep matching.
 */

/** KafkaJS's log levels. A plain object, not a TS enum: an enum would add reverse mappings
 * (logLevel[4] === 'INFO') that KafkaJS's object does not have. */
export const logLevel = {
  NOTHING: 0,
  ERROR: 1,
  WARN: 2,
  INFO: 4,
  DEBUG: 5,
} as const;
export type logLevel = (typeof logLevel)[keyof typeof logLevel];

export interface LoggerEntryContent {
  readonly timestamp: string;
  readonly message: string;
  [key: string]: any;
}

export interface LogEntry {
  namespace: string;
  level: logLevel;
  label: string;
  log: LoggerEntryContent;
}

export type logCreator = (logLevel: logLevel) => (entry: LogEntry) => void;

export type Logger = {
  info: (message: string, extra?: object) => void;
  error: (message: string, extra?: object) => void;
  warn: (message: string, extra?: object) => void;
  debug: (message: string, extra?: object) => void;
  namespace: (namespace: string, logLevel?: logLevel) => Logger;
  setLogLevel: (logLevel: logLevel) => void;
};

type Label = 'ERROR' | 'WARN' | 'INFO' | 'DEBUG';

/** KAFKAJS_LOG_LEVEL (a level name, any case) wins over the configured level, as in KafkaJS.
 * Read on every call, not once, because KafkaJS reads it whenever a logger is created. */
function withEnvOverride<T extends number | null | undefined>(level: T): T | logLevel {
  const name = (process.env.KAFKAJS_LOG_LEVEL ?? '').toUpperCase();
  return Object.prototype.hasOwnProperty.call(logLevel, name) ? logLevel[name as keyof typeof logLevel] : level;
}

/** The default logCreator: one JSON object per line on the console, as KafkaJS prints them
 * (`{"level":"INFO","timestamp":...,"logger":"kafkajs","message":"[Namespace] text",...}`). */
export const consoleLogCreator: logCreator = () => (entry) => {
  const prefix = entry.namespace ? `[${entry.namespace}] ` : '';
  const line = JSON.stringify({ level: entry.label, ...entry.log, message: `${prefix}${entry.log.message}` });
  switch (entry.level) {
    case logLevel.ERROR:
      console.error(line);
      break;
    case logLevel.WARN:
      console.warn(line);
      break;
    case logLevel.INFO:
      console.info(line);
      break;
    case logLevel.DEBUG:
      console.log(line);
      break;
    default:
      break;
  }
};

export interface LoggerOptions {
  level?: logLevel;
  logCreator?: logCreator;
}

export function createLogger({ level = logLevel.INFO, logCreator = consoleLogCreator }: LoggerOptions = {}): Logger {
  // The root level: changed by setLogLevel on any logger of this tree.
  let rootLevel: number = withEnvOverride(level);
  const write = logCreator(rootLevel as logLevel);

  const make = (namespace: string, ownLevel: number | null): Logger => {
    const current = (): number => (ownLevel === null || ownLevel === undefined ? rootLevel : ownLevel);
    const at =
      (label: Label, lvl: logLevel) =>
      (message: string, extra: object = {}): void => {
        if (lvl > current()) return;
        // `extra` is merged last, so it can override timestamp/logger/message, as in KafkaJS.
        const log = Object.assign({ timestamp: new Date().toISOString(), logger: 'kafkajs', message }, extra);
        write({ namespace, level: lvl, label, log });
      };
    return {
      info: at('INFO', logLevel.INFO),
      error: at('ERROR', logLevel.ERROR),
      warn: at('WARN', logLevel.WARN),
      debug: at('DEBUG', logLevel.DEBUG),
      namespace: (ns: string, nsLevel?: logLevel) => make(ns, withEnvOverride(nsLevel ?? null)),
      setLogLevel: (newLevel: logLevel) => {
        rootLevel = newLevel;
      },
    };
  };
  // KafkaJS's root logger has an undefined namespace; the console creator prints no prefix.
  return make(undefined as unknown as string, null);
}
