import dotenv from 'dotenv';
import { ConfigError, loadConfig } from './config.js';
import { createServer } from './server.js';
import { logStartupBanner } from './startup-banner.js';

dotenv.config({ quiet: true });

let config;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
}

const server = createServer(config);
let port: number;
try {
  port = await server.listen();
} catch (err) {
  // The usual causes are operator-fixable: the port is taken, or another server owns CHAT_SESSIONS_DIR.
  server.logger.fatal({ err }, `cannot start: ${(err as Error).message}`);
  await server.close();
  process.exit(1);
}
logStartupBanner(server.logger, config, port);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    server.logger.info({ signal }, 'signal received');
    void server.close().then(() => process.exit(0));
  });
}
