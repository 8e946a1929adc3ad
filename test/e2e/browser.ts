import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page, type Request } from 'playwright-core';
import { afterAll, beforeAll, expect } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';

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

export interface ServerAndBrowser {
  readonly server: TestServer;
  readonly browser: Browser;
}

/** For a describe block: starts a server with `env` and Chromium before its tests, and closes both after them. */
export function useServerAndBrowser(env: Record<string, string> = {}): ServerAndBrowser {
  let t: TestServer | undefined;
  let browser: Browser | undefined;
  beforeAll(async () => {
    t = await startServer(env);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
    await mkdir(ARTIFACTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the server and browser start in beforeAll');
    return value;
  };
  return {
    get server() {
      return started(t);
    },
    get browser() {
      return started(browser);
    },
  };
}

/**
 * Records into `problems` the console errors, uncaught exceptions and failed responses of
 * `page` (a failed load once, as its response with the URL; the closing poll race aside).
 */
export function recordProblems(page: Page, problems: string[]): void {
  page.on('console', (message) => {
    // Failed loads are reported with their URL by the response listener below.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('response', async (response) => {
    if (response.status() < 400) return;
    if (await isClosingPollRace(response.request(), response.status(), () => response.text())) return;
    problems.push(`HTTP ${response.status()} ${response.request().method()} ${response.url()}`);
  });
}

/** Opens the page at `url`, gets a development token for `userId` and connects; resolves once connected as `userId`. */
export async function connectAs(page: Page, url: string, userId: string): Promise<void> {
  await page.goto(url);
  await shown(page, '#app');
  await page.fill('#user-id', userId);
  await page.click('#dev-token-btn');
  await expect.poll(() => page.inputValue('#token'), { timeout: WAIT_MS }).toMatch(/^ey[\w-]+\.[\w-]+\.[\w-]+$/);
  await page.click('#connect-btn');
  await shown(page, '#conn-indicator[data-state="connected"]');
  await expect.poll(() => page.textContent('#conn-pill-text'), { timeout: WAIT_MS }).toContain(userId);
}
