import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page, Request } from 'playwright-core';

/** What the browser tests of the page share: Debian's Chromium, its flags, and where screenshots go. */

export const CHROMIUM = '/usr/bin/chromium';
export const HAS_CHROMIUM = existsSync(CHROMIUM);
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const ARTIFACTS = path.join(ROOT, 'test-artifacts');
/** Upper bound for anything the page should show; generous because CI machines vary. */
export const WAIT_MS = 10_000;

export const LAUNCH_ARGS = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const skippedTitle = (title: string) =>
  HAS_CHROMIUM ? title : `${title} (skipped: no Chromium at ${CHROMIUM}; apt-get install -y chromium)`;

/**
 * When the server refuses a connection (CONNECT_ERROR) while the client is still on
 * long-polling, engine.io-client and the server both close the session at once: the
 * client's next poll (GET) or its close packet (POST "1") can arrive after the server
 * dropped the session, and the server rightly answers 400 "Session ID unknown". That is
 * the closing race of the client library, not a fault of the page or the server, so it
 * alone is tolerated.
 */
export async function isClosingPollRace(request: Request, status: number, body: () => Promise<string>): Promise<boolean> {
  if (status !== 400 || !/\/socket\.io\/\?EIO=4&transport=polling&.*sid=/.test(request.url())) return false;
  const closing = request.method() === 'GET' || (request.method() === 'POST' && request.postData() === '1');
  return closing && (await body().catch(() => '')).includes('Session ID unknown');
}

export const screenshot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });

export const shown = (page: Page, selector: string) => page.locator(selector).first().waitFor({ state: 'visible', timeout: WAIT_MS });
