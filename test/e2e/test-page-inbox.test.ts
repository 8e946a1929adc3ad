import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { NotificationPage } from '../../src/contracts/inbox.js';
import { connectAs, HAS_CHROMIUM, recordProblems, screenshot, shown, skippedTitle, useServerAndBrowser, WAIT_MS } from './browser.js';

/**
 * The test page's Inbox panel in Chromium: two pages of one user (a laptop at 1440×900 and
 * a phone at 390×844) show the same stored notifications and the same unread badge. A
 * persisted push sent from the page's form reaches both; reading, deleting and reading all
 * on one page is seen on the other; a page opened later starts from the stored inbox,
 * newest first, and loads older pages with `before`. Screenshots go to test-artifacts/.
 */

const WIDE = { width: 1440, height: 900 };
const PHONE = { width: 390, height: 844 };
const USER = 'ivy';

describe.skipIf(!HAS_CHROMIUM)(skippedTitle('test page inbox: two pages of one user (Chromium)'), () => {
  const live = useServerAndBrowser();
  const problems: string[] = [];
  let laptop: Page;
  let phone: Page;

  async function openAs(userId: string, viewport: { width: number; height: number }): Promise<Page> {
    const page = await (await live.browser.newContext({ viewport })).newPage();
    recordProblems(page, problems);
    await connectAs(page, live.server.url, userId);
    return page;
  }

  /** A persisted push from a backend (not from the page). */
  async function pushStored(userId: string, title: string, extra: Record<string, unknown> = {}): Promise<string> {
    const response = await fetch(`${live.server.url}/api/push`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ userId, persist: true, data: { type: 'info', title, message: `${title}: details`, ...extra } }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { notificationIds?: string[] };
    expect(body.notificationIds).toHaveLength(1);
    return body.notificationIds![0]!;
  }

  /** The user's inbox as the server stores it. */
  async function storedInbox(userId: string): Promise<NotificationPage> {
    const response = await fetch(`${live.server.url}/api/users/${userId}/notifications?limit=100`);
    expect(response.status).toBe(200);
    return (await response.json()) as NotificationPage;
  }

  const item = (page: Page, title: string) => page.locator('#inbox-list .inbox-item', { hasText: title });
  const badge = (page: Page) => page.textContent('#inbox-unread');
  const titles = (page: Page) => page.locator('#inbox-list .inbox-title').allTextContents();
  /** Where the first element matching `selector` ends, in viewport pixels (the page's DOM is read with a string: no DOM types here). */
  const bottomOf = (page: Page, selector: string) =>
    page.evaluate<number>(`document.querySelector(${JSON.stringify(selector)}).getBoundingClientRect().bottom`);
  /** The inbox has answered its first `notification:list` (the empty text is no longer "Loading…"). */
  const loadedEmpty = (page: Page) =>
    expect.poll(() => page.textContent('#inbox-empty'), { timeout: WAIT_MS }).toContain('Nothing stored yet');

  it('a persisted push sent from the page shows on both pages of the user, unread, with the badge', { timeout: 40_000 }, async () => {
    laptop = await openAs(USER, WIDE);
    phone = await openAs(USER, PHONE);
    for (const page of [laptop, phone]) {
      await loadedEmpty(page);
      expect(await badge(page)).toBe('0');
    }

    await laptop.check('input[name="endpoint"][value="/api/push"]', { force: true });
    await laptop.fill('#send-target', USER);
    await laptop.fill('#send-title', 'Disk almost full');
    await laptop.fill('#send-message', '/var is 93% used on db-1');
    await laptop.selectOption('#send-type', 'warning');
    await laptop.check('#send-persist');
    expect(await laptop.textContent('#curl-preview')).toContain('"persist":true');
    await laptop.click('#send-submit');
    await expect.poll(() => laptop.textContent('#send-status'), { timeout: WAIT_MS }).toContain('stored in 1 inbox · delivered to 2 sockets');

    for (const page of [laptop, phone]) {
      await item(page, 'Disk almost full').waitFor({ state: 'visible', timeout: WAIT_MS });
      expect(await item(page, 'Disk almost full').getAttribute('data-read')).toBe('false');
      expect(await item(page, 'Disk almost full').getAttribute('data-type')).toBe('warning');
      await expect.poll(() => badge(page), { timeout: WAIT_MS }).toBe('1');
      expect(await page.textContent('#inbox-link-count')).toBe('1');
      // The inbox's own events belong to the Inbox panel, not to the live Notifications cards.
      expect(await page.locator('.card[data-event^="notification:"]').count()).toBe(0);
    }
    const stored = await storedInbox(USER);
    expect(stored.notifications.map((n) => [n.title, n.message, n.type, n.readAt])).toEqual([['Disk almost full', '/var is 93% used on db-1', 'warning', null]]);
    expect(await item(phone, 'Disk almost full').getAttribute('data-id')).toBe(stored.notifications[0]!.id);
  });

  it('another user’s pages show none of it', { timeout: 30_000 }, async () => {
    const other = await openAs('jack', WIDE);
    await loadedEmpty(other);
    await pushStored(USER, 'Only for ivy');
    await item(laptop, 'Only for ivy').waitFor({ state: 'visible', timeout: WAIT_MS });
    // The sentinel: jack's own notification, stored after ivy's.
    await pushStored('jack', 'For jack');
    await item(other, 'For jack').waitFor({ state: 'visible', timeout: WAIT_MS });
    expect(await titles(other)).toEqual(['For jack']);
    expect(await badge(other)).toBe('1');
    await other.context().close();
  });

  it('reading on one page clears the badge on the other', async () => {
    await expect.poll(() => badge(phone), { timeout: WAIT_MS }).toBe('2');
    await phone.click(`#inbox-list .inbox-item:has-text("Disk almost full") button:has-text("Mark read")`);

    for (const page of [laptop, phone]) {
      await expect.poll(() => item(page, 'Disk almost full').getAttribute('data-read'), { timeout: WAIT_MS }).toBe('true');
      await expect.poll(() => badge(page), { timeout: WAIT_MS }).toBe('1');
      expect(await item(page, 'Disk almost full').locator('.inbox-state').textContent()).toBe('Read');
      expect(await item(page, 'Disk almost full').getByRole('button', { name: /^Mark read/ }).count()).toBe(0);
      expect(await item(page, 'Only for ivy').getAttribute('data-read')).toBe('false');
    }
    expect((await storedInbox(USER)).unreadCount).toBe(1);
  });

  it('deleting on one page removes it from both', async () => {
    await laptop.click(`#inbox-list .inbox-item:has-text("Only for ivy") button:has-text("Delete")`);
    for (const page of [phone, laptop]) {
      await expect.poll(() => item(page, 'Only for ivy').count(), { timeout: WAIT_MS }).toBe(0);
      await expect.poll(() => badge(page), { timeout: WAIT_MS }).toBe('0');
      expect(await titles(page)).toEqual(['Disk almost full']);
    }
    expect((await storedInbox(USER)).notifications.map((n) => n.title)).toEqual(['Disk almost full']);
  });

  it('Read all on one page marks everything read on both', async () => {
    for (const title of ['Backup finished', 'Invoice ready', 'New login from Firefox']) await pushStored(USER, title);
    for (const page of [laptop, phone]) await expect.poll(() => badge(page), { timeout: WAIT_MS }).toBe('3');
    expect(await titles(laptop)).toEqual(['New login from Firefox', 'Invoice ready', 'Backup finished', 'Disk almost full']);

    await phone.click('#inbox-read-all');
    for (const page of [laptop, phone]) {
      await expect.poll(() => badge(page), { timeout: WAIT_MS }).toBe('0');
      await expect.poll(() => page.locator('#inbox-list .inbox-item[data-read="false"]').count(), { timeout: WAIT_MS }).toBe(0);
      expect(await page.locator('#inbox-list .inbox-item[data-read="true"]').count()).toBe(4);
      expect(await page.isDisabled('#inbox-read-all')).toBe(true);
    }
    expect((await storedInbox(USER)).unreadCount).toBe(0);
  });

  it('a page opened later starts from the stored inbox, newest first, and loads older ones', { timeout: 60_000 }, async () => {
    await pushStored(USER, 'Payment failed', { type: 'error', priority: 'URGENT', message: 'Card ending 4242 was declined' });
    for (let i = 1; i <= 21; i += 1) await pushStored(USER, `Build ${i} passed`, { type: 'success' });
    const stored = await storedInbox(USER);
    expect(stored.notifications).toHaveLength(26);
    expect(stored.unreadCount).toBe(22);

    const tablet = await openAs(USER, WIDE);
    await expect.poll(() => tablet.locator('#inbox-list .inbox-item').count(), { timeout: WAIT_MS }).toBe(20);
    expect(await badge(tablet)).toBe('22');
    await shown(tablet, '#inbox-more');
    await tablet.click('#inbox-more');
    await expect.poll(() => tablet.locator('#inbox-list .inbox-item').count(), { timeout: WAIT_MS }).toBe(26);
    expect(await tablet.isHidden('#inbox-more')).toBe(true);
    expect(await tablet.locator('#inbox-list .inbox-item').evaluateAll((nodes) => nodes.map((node) => node.getAttribute('data-id')))).toEqual(
      stored.notifications.map((n) => n.id),
    );
    expect(await item(tablet, 'Payment failed').locator('.inbox-priority').textContent()).toBe('URGENT');

    // Unread only asks the server again with unreadOnly: the 22 unread ones.
    await tablet.check('#inbox-unread-only');
    await expect.poll(() => tablet.locator('#inbox-list .inbox-item').count(), { timeout: WAIT_MS }).toBe(20);
    await tablet.click('#inbox-more');
    await expect.poll(() => tablet.locator('#inbox-list .inbox-item').count(), { timeout: WAIT_MS }).toBe(22);
    expect(await tablet.locator('#inbox-list .inbox-item[data-read="true"]').count()).toBe(0);
    await tablet.context().close();
  });

  it('fits 1440×900 and a phone screen, with the inbox in view', async () => {
    // The laptop already shows the inbox where it stands; the phone scrolls to it from the top bar's badge.
    await expect.poll(() => badge(laptop), { timeout: WAIT_MS }).toBe('22');
    await laptop.evaluate(`document.querySelectorAll('.col').forEach((c) => { c.scrollTop = 0; })`);
    expect(await bottomOf(laptop, '#inbox-list .inbox-item')).toBeLessThanOrEqual(WIDE.height);
    await screenshot(laptop, 'wide-1440-inbox');

    await phone.evaluate('window.scrollTo(0, 0)');
    await phone.click('#inbox-link');
    await expect.poll(() => bottomOf(phone, '#inbox-list .inbox-item'), { timeout: WAIT_MS }).toBeLessThanOrEqual(PHONE.height);
    expect(await phone.evaluate<boolean>('document.documentElement.scrollWidth > window.innerWidth')).toBe(false);
    await screenshot(phone, 'phone-inbox');
  });

  it('logs no console errors, uncaught exceptions or failed requests', () => {
    expect(problems).toEqual([]);
  });
});
