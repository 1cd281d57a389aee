/**
 * One-line structured logs on stderr (`level time [replica] scope: message {fields}`); the
 * same logger backs NestJS's own messages, so nothing writes around it.
 */
import type { LoggerService } from '@nestjs/common';
import type { LogLevel } from '../config/config.js';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(scope: string): Logger;
}

export type LogSink = (line: string) => void;

const stderrSink: LogSink = (line) => {
  process.stderr.write(`${line}\n`);
};

function render(fields: Record<string, unknown> | undefined): string {
  if (!fields) return '';
  const entries = Object.entries(fields).filter(([, value]) => value !== undefined);
  if (entries.length === 0) return '';
  return ` ${JSON.stringify(Object.fromEntries(entries.map(([key, value]) => [key, value instanceof Error ? value.message : value])))}`;
}

export function createLogger(level: LogLevel, replicaId: string, sink: LogSink = stderrSink, scope = 'controller'): Logger {
  const threshold = RANK[level];
  const write = (at: LogLevel, message: string, fields?: Record<string, unknown>): void => {
    if (RANK[at] < threshold) return;
    sink(`${at.toUpperCase().padEnd(5)} ${new Date().toISOString()} [${replicaId}] ${scope}: ${message}${render(fields)}`);
  };
  return {
    debug: (message, fields) => write('debug', message, fields),
    info: (message, fields) => write('info', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    error: (message, fields) => write('error', message, fields),
    child: (child) => createLogger(level, replicaId, sink, `${scope}.${child}`),
  };
}

/** NestJS's logger interface over ours. */
export function nestLogger(logger: Logger): LoggerService {
  const text = (message: unknown): string => (typeof message === 'string' ? message : JSON.stringify(message));
  const context = (params: unknown[]): Record<string, unknown> | undefined => {
    const last = params[params.length - 1];
    return typeof last === 'string' ? { context: last } : undefined;
  };
  return {
    log: (message: unknown, ...params: unknown[]) => logger.debug(text(message), context(params)),
    error: (message: unknown, ...params: unknown[]) => logger.error(text(message), context(params)),
    warn: (message: unknown, ...params: unknown[]) => logger.warn(text(message), context(params)),
    debug: (message: unknown, ...params: unknown[]) => logger.debug(text(message), context(params)),
    verbose: (message: unknown, ...params: unknown[]) => logger.debug(text(message), context(params)),
  };
}
