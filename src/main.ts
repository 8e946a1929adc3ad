import dotenv from 'dotenv';
import { ConfigError, loadConfig } from './config.js';
import { createServer } from './server.js';
import { describeStartupFailure, logStartupBanner } from './startup-banner.js';

dotenv.config({ quiet: true });

/**
 * A start-up failure is the operator's to fix (a bad setting, a taken port, a folder another
 * server owns): one line on stderr says what, with no stack trace to dig it out of.
 */
function refuseToStart(err: unknown): never {
  process.stderr.write(`${describeStartupFailure(err)}\n`);
  process.exit(1);
}

let config;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  refuseToStart(err);
}

const server = createServer(config);
let port: number;
try {
  port = await server.listen();
} catch (err) {
  // Release whatever listen() took (the store's lock) without the shutdown's routine
  // info lines burying the one line that matters.
  server.logger.level = 'warn';
  await server.close();
  refuseToStart(err);
}
logStartupBanner(server.logger, config, port);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    server.logger.info({ signal }, 'signal received');
    void server.close().then(() => process.exit(0));
  });
}
