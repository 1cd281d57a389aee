/**
 * A small structured logger: one line per event on stderr, text or JSON, with fixed fields
 * (node id) carried by child loggers. Injected everywhere as a plain object, so tests pass
 * a collecting logger instead.
 */
import type { LogFormat, LogLevel } from '../config/agent.config.js';

export type Fields = Readonly<Record<string, string | number | boolean | undefined>>;

export interface Logger {
  debug(message: string, fields?: Fields): void;
  info(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
  child(fields: Fields): Logger;
}

const RANK: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(options: { format: LogFormat; level: LogLevel; write?: (line: string) => void }, base: Fields = {}): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const emit = (level: LogLevel, message: string, fields: Fields = {}): void => {
    if (RANK[level] < RANK[options.level]) return;
    const all: Record<string, unknown> = { ...base, ...fields };
    for (const k of Object.keys(all)) if (all[k] === undefined) delete all[k];
    if (options.format === 'json') {
      write(JSON.stringify({ time: new Date().toISOString(), level, msg: message, ...all }));
    } else {
      const extra = Object.entries(all)
        .map(([k, v]) => `${k}=${typeof v === 'string' && /\s/.test(v) ? JSON.stringify(v) : String(v)}`)
        .join(' ');
      write(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${message}${extra ? ` ${extra}` : ''}`);
    }
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger(options, { ...base, ...fields }),
  };
}

/** A logger that keeps every line in memory (tests) and can also forward. */
export function memoryLogger(): Logger & { readonly lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger({ format: 'text', level: 'debug', write: (line) => lines.push(line) });
  return Object.assign(logger, { lines });
}
