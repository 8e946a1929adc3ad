import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { connectAs, HAS_CHROMIUM, recordProblems, screenshot, shown, skippedTitle, useServerAndBrowser, WAIT_MS } from './browser.js';

/**
 * What a newcomer hit on the test page (issue 10, item 17), in Chromium at 1440×900: the
 * page tells the truth about its socket and rooms after Debug connection, reuses the chat
 * it has with a user, keeps Check server status's answer and the room picker readable,
 * says a refused token once, follows the server's API key mode without console errors,
 * names every control distinctly, and /docs finds its favicon.
 */

const WIDE = { width: 1440, height: 900 };
const API_KEY = 'e2e-key-0123456789abcdef';

interface Connection {
  socketId: string;
  rooms: string[];
}

// The page's own DOM is read with string expressions: this project's TypeScript has no DOM types.

/** Whether the element is inside the window and inside the visible part of its scrolling column. */
const inView = (page: Page, selector: string) =>
  page.evaluate<boolean>(`(() => {
    const node = document.querySelector(${JSON.stringify(selector)});
    if (!node) return false;
    const box = node.getBoundingClientRect();
    const column = node.closest('.col')?.getBoundingClientRect();
    const top = Math.max(0, column?.top ?? 0);
    const bottom = Math.min(window.innerHeight, column?.bottom ?? window.innerHeight);
    return box.height > 0 && box.top >= top - 1 && box.bottom <= bottom + 1;
  })()`);

/** Stat tiles whose label or value is cut (wider than its box). */
const cutTiles = (page: Page) =>
  page.evaluate<string[]>(`[...document.querySelectorAll('#server-stats dt, #server-stats dd')]
    .filter((node) => node.scrollWidth > node.clientWidth)
    .map((node) => node.id || node.textContent)`);

/** Whether the selected option's text fits in the select beside its arrow (about 24 px). */
const selectShowsItsText = (page: Page, selector: string) =>
  page.evaluate<boolean>(`(() => {
    const select = document.querySelector(${JSON.stringify(selector)});
    const style = getComputedStyle(select);
    const context = document.createElement('canvas').getContext('2d');
    context.font = style.fontWeight + ' ' + style.fontSize + ' ' + style.fontFamily;
    const text = context.measureText(select.selectedOptions[0]?.text ?? '').width;
    return text + 24 <= select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  })()`);

/** The accessible name of every form control and button, as a screen reader would announce it (approximately). */
const controlNames = (page: Page) =>
  page.evaluate<string[]>(`[...document.querySelectorAll('#app input, #app select, #app textarea, #app button')].map((node) => {
    const name = node.getAttribute('aria-label') ?? ([...(node.labels ?? [])].map((label) => label.textContent).join(' ') || node.textContent);
    return name.replace(/\\s+/g, ' ').trim();
  })`);

describe.skipIf(!HAS_CHROMIUM)(skippedTitle('test page, what a newcomer hit (Chromium, 1440×900)'), () => {
  const live = useServerAndBrowser();
  const problems: string[] = [];

  async function newPage(): Promise<Page> {
    const page = await (await live.browser.newContext({ viewport: WIDE })).newPage();
    recordProblems(page, problems);
    return page;
  }

  async function openAs(userId: string): Promise<Page> {
    const page = await newPage();
    await connectAs(page, live.server.url, userId);
    return page;
  }

  const socketIdOf = async (page: Page) => /socket (\S+)/.exec((await page.textContent('#conn-detail')) ?? '')?.[1];

  async function connectionsOf(userId: string): Promise<Connection[]> {
    const response = await fetch(`${live.server.url}/api/connections?userId=${userId}`);
    return ((await response.json()) as { connections: Connection[] }).connections;
  }

  it('Debug connection leaves the live socket and its rooms as they were, and the room list says what the server says', { timeout: 40_000 }, async () => {
    const page = await openAs('erin');
    await page.fill('#room-name', 'release-notes');
    await page.click('#room-join');
    await shown(page, '.room-item[data-room="release-notes"]');
    const liveSocket = await socketIdOf(page);
    expect(liveSocket).toBeTruthy();

    await page.click('#debug-btn');
    await expect.poll(() => page.locator('#diag-list li').count(), { timeout: WAIT_MS }).toBe(6);
    await expect.poll(() => page.locator('#diag-list li').last().getAttribute('data-result'), { timeout: 15_000 }).toBe('ok');
    expect(await page.locator('#diag-list li').last().textContent()).toContain(`socket ${liveSocket} was left as it is`);

    // The server's view once the test socket has gone: the page's own socket, still in the room.
    await expect.poll(async () => (await connectionsOf('erin')).map((c) => c.socketId), { timeout: WAIT_MS }).toEqual([liveSocket]);
    expect((await connectionsOf('erin'))[0]?.rooms).toEqual(['release-notes']);
    // The page's view is the same.
    expect(await socketIdOf(page)).toBe(liveSocket);
    expect(await page.locator('.room-item').evaluateAll((items) => items.map((item) => item.getAttribute('data-room')))).toEqual(['release-notes']);

    // At 1440×900: Check server status answers in view, no tile cuts its text, the room picker reads in full.
    await page.click('#status-btn');
    await expect.poll(() => page.textContent('#server-status'), { timeout: WAIT_MS }).toMatch(/^Healthy · checked at/);
    expect(await inView(page, '#server-status')).toBe(true);
    expect(await inView(page, '#server-stats')).toBe(true);
    expect(await cutTiles(page)).toEqual([]);
    expect(await page.inputValue('#room-target')).toBe('release-notes');
    expect(await selectShowsItsText(page, '#room-target')).toBe(true);
    await screenshot(page, 'wide-1440-status-and-rooms');

    // A disconnect takes the rooms with it, and the list and status say so.
    await page.click('#disconnect-btn');
    await shown(page, '#rooms-empty');
    expect(await page.textContent('#room-status')).toContain('no longer in #release-notes');
    await page.context().close();
  });

  it('Start chat with the same user opens the chat already there; chats made elsewhere are told apart', { timeout: 30_000 }, async () => {
    const page = await openAs('frank');
    await page.fill('#chat-peer', 'gina');
    await page.click('#new-session-btn');
    await expect.poll(() => page.textContent('#conversation-title'), { timeout: WAIT_MS }).toBe('Chat with gina');
    const first = await page.textContent('#conversation-meta');

    await page.fill('#chat-peer', 'gina');
    await page.click('#new-session-btn');
    await expect.poll(() => page.textContent('#chat-status'), { timeout: WAIT_MS }).toContain('You already have a chat with gina');
    expect(await page.textContent('#conversation-meta')).toBe(first);
    expect(await page.locator('.session-item[data-peer="gina"]').count()).toBe(1);
    const listed = await (await fetch(`${live.server.url}/api/users/frank/sessions`)).json() as { sessions: unknown[] };
    expect(listed.sessions).toHaveLength(1);

    // A second session between the two, made over REST: both listed, each with its start and id.
    const created = await fetch(`${live.server.url}/api/sessions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ machineId: 'backend', senderUserId: 'gina', receiverUserId: 'frank' }),
    });
    expect(created.status).toBe(201);
    await expect.poll(() => page.locator('.session-item[data-peer="gina"]').count(), { timeout: WAIT_MS }).toBe(2);
    const started = await page.locator('.session-item[data-peer="gina"] .session-started').allTextContents();
    expect(started).toHaveLength(2);
    expect(new Set(started).size).toBe(2);
    await page.context().close();
  });

  it('says a refused token once, and gives every control its own name', async () => {
    const page = await newPage();
    await page.goto(live.server.url);
    await shown(page, '#app');
    await page.fill('#token', 'not-a-token');
    await page.click('#connect-btn');
    await shown(page, '#conn-indicator[data-state="error"]');
    const saying = await page.evaluate<number>(`[...document.querySelectorAll('#app *')]
      .filter((node) => !node.closest('#log') && node.checkVisibility())
      .filter((node) => [...node.childNodes].some((child) => child.nodeType === 3 && child.textContent.includes('refused the token')))
      .length`);
    expect(saying).toBe(1);
    expect(await page.textContent('#conn-detail')).toContain('UNAUTHORIZED');

    const names = await controlNames(page);
    expect(names.filter((name) => name === '')).toEqual([]);
    expect(names.filter((name, index) => names.indexOf(name) !== index)).toEqual([]);
    await page.context().close();
  });

  it('serves /favicon.ico, which /docs asks for, as an image the browser decodes', async () => {
    const page = await newPage();
    await page.goto(`${live.server.url}/docs`);
    await shown(page, '.swagger-ui .info');
    // /docs names no icon, so browsers ask for /favicon.ico; headless Chromium does not
    // fetch icons itself, so the page fetches and decodes it as the tab would.
    const icon = await page.evaluate<{ status: number; type: string; width: number }>(`(async () => {
      const response = await fetch('/favicon.ico');
      const blob = await response.blob();
      const bitmap = response.ok ? await createImageBitmap(blob) : { width: 0 };
      return { status: response.status, type: response.headers.get('content-type') ?? '', width: bitmap.width };
    })()`);
    expect(icon).toEqual({ status: 200, type: expect.stringMatching(/^image\//), width: 32 });
    await page.context().close();
  });

  it('logs no console errors, uncaught exceptions or failed requests', () => {
    expect(problems).toEqual([]);
  });
});

describe.skipIf(!HAS_CHROMIUM)(skippedTitle('test page with API_KEYS set (Chromium, 1440×900)'), () => {
  const live = useServerAndBrowser({ API_KEYS: API_KEY });

  it('says the key is required before anything is refused, and asks for nothing it would be refused', { timeout: 30_000 }, async () => {
    const page = await (await live.browser.newContext({ viewport: WIDE })).newPage();
    // Nothing filtered: a refused request is itself a console error ("Failed to load resource").
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));

    await page.goto(live.server.url);
    await shown(page, '#app');
    await expect.poll(() => page.textContent('#api-key-hint'), { timeout: WAIT_MS }).toContain('Required: this server sets API_KEYS');
    expect(await page.getAttribute('#api-key', 'placeholder')).toContain('Required');
    await expect.poll(() => page.textContent('#stat-users'), { timeout: WAIT_MS }).toBe('key needed');
    expect(await cutTiles(page)).toEqual([]);

    // A development token needs the key: the page says so instead of being refused.
    await page.fill('#user-id', 'hank');
    await page.click('#dev-token-btn');
    await expect.poll(() => page.textContent('#connect-status'), { timeout: WAIT_MS }).toContain('enter the API key');
    await page.click('#status-btn');
    await expect.poll(() => page.textContent('#server-status'), { timeout: WAIT_MS }).toContain('This server sets API_KEYS');
    expect(await inView(page, '#server-stats')).toBe(true);
    await screenshot(page, 'wide-1440-api-keys');
    expect(problems).toEqual([]);

    // With the key, the same calls go through.
    await page.fill('#api-key', API_KEY);
    await page.click('#status-btn');
    await expect.poll(() => page.textContent('#stat-users'), { timeout: WAIT_MS }).toBe('0');
    await expect.poll(() => page.textContent('#api-key-hint'), { timeout: WAIT_MS }).toBe('Key accepted.');
    expect(problems).toEqual([]);
    await page.context().close();
  });
});
