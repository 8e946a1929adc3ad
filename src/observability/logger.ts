import { pino, type Logger } from 'pino';

export type { Logger };

/** Paths pino removes from every log line: credentials never reach the logs. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["x-signature"]',
  'req.headers.cookie',
  'token',
  'apiKey',
  'signature',
];

export function createLogger(options: {
  level: string;
  pretty: boolean;
  nodeId?: string | undefined;
  /** Where lines go when not pretty (default stdout); tests read them from here. */
  destination?: NodeJS.WritableStream | undefined;
}): Logger {
  const pretty = options.pretty && options.level !== 'silent';
  const settings = {
    level: options.level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: { service: 'realtime-notify-server', ...(options.nodeId !== undefined ? { node: options.nodeId } : {}) },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } } : {}),
  };
  return options.destination !== undefined && !pretty ? pino(settings, options.destination) : pino(settings);
}
