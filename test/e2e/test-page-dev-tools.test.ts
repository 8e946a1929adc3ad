import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { NotificationPage } from '../../src/contracts/inbox.js';
import { connectAs, HAS_CHROMIUM, recordProblems, screenshot, shown, skippedTitle, useServerAndBrowser, WAIT_MS } from './browser.js';

/**
 * The test page's Test helpers panel in Chromium: each `POST /socket/test/*` button sends
 * with the page's own token, the answer shows in the panel, what it sends to the user shows
 * in the Notifications and Inbox panels (stored), a broadcast reaches another user's page,
 * and `test:notification` stores one over the socket. A server with the helpers off is said
 * to be so. Screenshots go to test-artifacts/.
 */

const WIDE = { width: 1440, height: 900 };
const USER = 'zoe';

const card = (page: Page, title: string) => page.locator('#notification-list .card', { hasText: title });
const inboxItem = (page: Page, title: string) => page.locator('#inbox-list .inbox-item', { hasText: title });
const status = (page: Page) => page.textContent('#dev-tools-status');
const badge = (page: Page) => page.textContent('#inbox-unread');

describe.skipIf(!HAS_CHROMIUM)(skippedTitle('test page: the Test helpers panel (Chromium)'), () => {
  const live = useServerAndBrowser();
  const problems: string[] = [];
  let page: Page;

  async function open(userId: string): Promise<Page> {
    const opened = await (await live.browser.newContext({ viewport: WIDE })).newPage();
    recordProblems(opened, problems);
    await connectAs(opened, live.server.url, userId);
    return opened;
  }

  /** The user's inbox as the server stores it. */
  async function storedInbox(userId: string): Promise<NotificationPage> {
    const response = await fetch(`${live.server.url}/api/users/${userId}/notifications?limit=100`);
    expect(response.status).toBe(200);
    return (await response.json()) as NotificationPage;
  }

  it('is disabled until the page connects with a token', { timeout: 30_000 }, async () => {
    const idle = await (await live.browser.newContext({ viewport: WIDE })).newPage();
    recordProblems(idle, problems);
    await idle.goto(live.server.url);
    await shown(idle, '#dev-tools-panel');
    for (const selector of ['[data-helper="notification"]', '[data-helper="broadcast"]', '#dev-tools-socket']) {
      expect(await idle.isDisabled(`#dev-tools-panel ${selector}`)).toBe(true);
    }
    expect(await idle.textContent('#dev-tools-sub')).toContain('Connect');
    await idle.context().close();
  });

  it('Notification: the seed answer in the panel, the card, and the stored inbox item', { timeout: 40_000 }, async () => {
    page = await open(USER);
    await expect.poll(() => page.isEnabled('#dev-tools-panel [data-helper="notification"]'), { timeout: WAIT_MS }).toBe(true);
    expect(await page.textContent('#dev-tools-sub')).toContain(`As ${USER}`);
    await page.fill('#dev-tools-title-input', 'Build 42 is green');
    await page.fill('#dev-tools-message', 'All 812 tests passed');
    await page.selectOption('#dev-tools-type', 'success');
    await page.click('#dev-tools-panel [data-helper="notification"]');

    await expect.poll(() => status(page), { timeout: WAIT_MS }).toBe('Notification sent via Socket.IO · User is connected, notification delivered');
    await card(page, 'Build 42 is green').waitFor({ state: 'visible', timeout: WAIT_MS });
    expect(await card(page, 'Build 42 is green').textContent()).toContain('All 812 tests passed');
    await inboxItem(page, 'Build 42 is green').waitFor({ state: 'visible', timeout: WAIT_MS });
    expect(await inboxItem(page, 'Build 42 is green').getAttribute('data-type')).toBe('success');
    await expect.poll(() => badge(page), { timeout: WAIT_MS }).toBe('1');
    const stored = await storedInbox(USER);
    expect(stored.notifications.map((n) => [n.title, n.message, n.type])).toEqual([['Build 42 is green', 'All 812 tests passed', 'success']]);
  });

  it('Email, Event and Alarm: seed 004 titles, each stored', { timeout: 40_000 }, async () => {
    await page.fill('#dev-tools-title-input', 'Quarterly review');
    for (const [kind, answer, title] of [
      ['email', 'Email notification sent', '📧 New Email'],
      ['event', 'Event notification sent', '📅 Upcoming Event'],
      ['alarm', 'Alarm notification sent', '⏰ Alarm'],
    ] as const) {
      await page.click(`#dev-tools-panel [data-helper="${kind}"]`);
      await expect.poll(() => status(page), { timeout: WAIT_MS }).toContain(answer);
      await inboxItem(page, title).waitFor({ state: 'visible', timeout: WAIT_MS });
    }
    expect(await inboxItem(page, '📧 New Email').textContent()).toContain('Subject: Quarterly review');
    expect(await inboxItem(page, '📅 Upcoming Event').textContent()).toContain('Quarterly review at ');
    expect(await card(page, '⏰ Alarm').textContent()).toContain('Quarterly review');
    await expect.poll(() => badge(page), { timeout: WAIT_MS }).toBe('4');
    expect((await storedInbox(USER)).notifications.map((n) => n.title)).toEqual(['⏰ Alarm', '📅 Upcoming Event', '📧 New Email', 'Build 42 is green']);
  });

  it('Broadcast: another user’s page shows it; nothing is stored', { timeout: 40_000 }, async () => {
    const other = await open('yan');
    await page.fill('#dev-tools-title-input', 'System Announcement');
    await page.fill('#dev-tools-message', 'Server maintenance in 10 minutes');
    await page.click('#dev-tools-panel [data-helper="broadcast"]');
    await expect.poll(() => status(page), { timeout: WAIT_MS }).toContain('Broadcast sent to all connected users');
    for (const viewer of [page, other]) {
      await card(viewer, 'System Announcement').waitFor({ state: 'visible', timeout: WAIT_MS });
      expect(await card(viewer, 'System Announcement').textContent()).toContain('Server maintenance in 10 minutes');
    }
    expect((await storedInbox(USER)).notifications).toHaveLength(4);
    expect((await storedInbox('yan')).notifications).toEqual([]);
    await other.context().close();
  });

  it('Emit test:notification: stored over the socket, the record id in the panel', { timeout: 30_000 }, async () => {
    await page.fill('#dev-tools-title-input', 'Job assigned to you');
    await page.fill('#dev-tools-message', 'Mix the Friday set');
    await page.click('#dev-tools-socket');
    await expect.poll(() => status(page), { timeout: WAIT_MS }).toMatch(/^test:notification stored #\d+ in your inbox$/);
    await inboxItem(page, 'Job assigned to you').waitFor({ state: 'visible', timeout: WAIT_MS });
    const id = /#(\d+)/.exec((await status(page)) ?? '')![1];
    expect(await inboxItem(page, 'Job assigned to you').getAttribute('data-id')).toBe(id);
    await expect.poll(() => badge(page), { timeout: WAIT_MS }).toBe('5');
    // The ack is the panel's, not a live notification card of its own.
    expect(await page.locator('.card[data-event="test:notification:ack"]').count()).toBe(0);
    await screenshot(page, 'wide-1440-dev-tools');
  });

  it('logs no console errors, uncaught exceptions or failed requests', () => {
    expect(problems).toEqual([]);
  });
});

describe.skipIf(!HAS_CHROMIUM)(skippedTitle('test page: the Test helpers panel on a server with them off (Chromium)'), () => {
  const live = useServerAndBrowser({ ENABLE_TEST_ENDPOINTS: 'false' });

  it('says the helpers are off, for the HTTP buttons and for the socket event', { timeout: 40_000 }, async () => {
    const page = await (await live.browser.newContext({ viewport: WIDE })).newPage();
    const problems: string[] = [];
    recordProblems(page, problems);
    await connectAs(page, live.server.url, 'off-user');
    await page.click('#dev-tools-panel [data-helper="email"]');
    await expect.poll(() => status(page), { timeout: WAIT_MS }).toContain('The test helpers are off on this server');
    await page.click('#dev-tools-panel [data-helper="notification"]');
    await page.evaluate(`document.getElementById('dev-tools-status').textContent = ''`);
    await page.click('#dev-tools-socket');
    await expect.poll(() => status(page), { timeout: WAIT_MS }).toContain('The test helpers are off on this server');
    // The two 404s the buttons met are the answer being tested; nothing else went wrong.
    expect(problems.filter((problem) => !/^HTTP 404 POST .*\/socket\/test\/(email|notification)$/.test(problem))).toEqual([]);
    expect(problems).toHaveLength(2);
    await page.context().close();
  });
});
