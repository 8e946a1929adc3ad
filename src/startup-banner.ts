import { ConfigError, type Config } from './config.js';
import type { Logger } from './observability/logger.js';
import { describeDatabaseUrl } from './storage/postgres/postgres-database.js';

/** Tells the operator, once, where the server is and which development shortcuts are on. */
export function logStartupBanner(logger: Logger, config: Config, port: number): void {
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const base = `http://${shownHost}:${port}`;
  logger.info({ port, host: config.host, env: config.env, chatSessionsDir: config.chatSessionsDir }, `listening on ${base}`);
  if (config.database !== undefined) {
    logger.info(
      { database: describeDatabaseUrl(config.database.url), poolMax: config.database.poolMax },
      'chat sessions, the inbox and jobs are stored in PostgreSQL',
    );
  }
  if (config.openDelivery) {
    logger.warn(
      'API_KEYS is empty: /notify and /api/* are OPEN to anyone who can reach this port (development only; production refuses to start this way)',
    );
  }
  if (config.isProduction && config.testHelpers) {
    logger.warn(
      'ENABLE_TEST_ENDPOINTS=true in production: the development test helpers are ON. Any user with a token can POST /socket/test/* ' +
        '(broadcast to every connected socket, fill their own inbox) and use the test:* socket events. Unset it unless this is a test deployment',
    );
  }
  if (config.jwt.secretGenerated) {
    logger.warn('JWT_SECRET is not set: using a random secret for the life of this process; tokens will not survive a restart');
  }
  if (!config.isProduction) {
    logger.info(`open ${base} in a browser for the test page, ${base}/docs for the API reference`);
    logger.info(
      `send a first notification: curl -X POST ${base}/notify -H "Content-Type: application/json"` +
        `${config.openDelivery ? '' : ' -H "X-API-Key: <key>"'} -d '{"title":"Hello","message":"It works"}'`,
    );
  }
}

/**
 * The one line that says why the server did not start. Operator mistakes (a bad setting, a
 * taken port, a folder owned by another server) are told in words, never as a stack trace.
 */
export function describeStartupFailure(err: unknown): string {
  if (err instanceof ConfigError) return `cannot start: invalid configuration: ${err.problems.join('; ')}`;
  const { code, address, port } = (err ?? {}) as { code?: unknown; address?: unknown; port?: unknown };
  if (code === 'EADDRINUSE') {
    return `cannot start: ${String(address)}:${String(port)} is already in use; stop the process listening there or set PORT`;
  }
  const message = err instanceof Error ? err.message : String(err);
  return `cannot start: ${message.replace(/\s*\n\s*/g, ' ')}`;
}
