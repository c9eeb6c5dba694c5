import pino from 'pino';

export type Logger = pino.Logger;

/** The daemon logs JSON lines to stdout (pino); HULL_LOG_LEVEL picks the level. */
export function createLogger(level = process.env.HULL_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime });
}
