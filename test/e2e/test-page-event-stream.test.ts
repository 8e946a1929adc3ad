import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { connectAs, HAS_CHROMIUM, recordProblems, screenshot, skippedTitle, useServerAndBrowser, WAIT_MS } from './browser.js';

/**
 * The test page's `kafka-events` control in Chromium: Watch subscribes, every delivery then
 * shows in the event log as `kafka-event` with its topic, Stop unsubscribes. A screenshot
 * goes to test-artifacts/.
 */
describe.skipIf(!HAS_CHROMIUM)(skippedTitle('test page event stream: watching kafka-events (Chromium)'), () => {
  const live = useServerAndBrowser();
  const problems: string[] = [];
  let page: Page;

  const broadcast = async (event: string) => {
    const response = await fetch(`${live.server.url}/api/broadcast`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ event, data: { from: 'the backend' } }),
    });
    expect(response.status).toBe(200);
  };
  const kafkaEntries = () => page.locator('#log .log-entry[data-kind="in"]', { hasText: 'kafka-event' });

  it('Watch subscribes, and a broadcast shows as kafka-event (topic api.broadcast) in the log and the status line', { timeout: 40_000 }, async () => {
    page = await (await live.browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
    recordProblems(page, problems);
    await connectAs(page, live.server.url, 'stream-watcher');
    await expect.poll(() => page.isEnabled('#stream-watch'), { timeout: WAIT_MS }).toBe(true);
    await page.click('#stream-watch');
    await expect.poll(() => page.textContent('#stream-status'), { timeout: WAIT_MS }).toContain('Watching kafka-events');
    expect(await page.isEnabled('#stream-stop')).toBe(true);

    await broadcast('stream:first');
    await expect.poll(() => page.textContent('#stream-status'), { timeout: WAIT_MS }).toContain('1 received, last on api.broadcast');
    await expect.poll(() => kafkaEntries().count(), { timeout: WAIT_MS }).toBe(1);
    expect(await kafkaEntries().first().textContent()).toContain('stream:first');
    await page.locator('#rooms-panel').scrollIntoViewIfNeeded();
    await screenshot(page, 'test-page-event-stream');
  });

  it('Stop unsubscribes: the next delivery arrives, without a kafka-event', { timeout: 30_000 }, async () => {
    await page.click('#stream-stop');
    await expect.poll(() => page.textContent('#stream-status'), { timeout: WAIT_MS }).toContain('Stopped watching kafka-events (1 received)');
    await broadcast('stream:second');
    // The sentinel: a later broadcast, sent after any kafka-event the first would have caused.
    await broadcast('stream:third');
    await expect.poll(() => page.locator('#log .log-entry[data-kind="in"]', { hasText: 'stream:third' }).count(), { timeout: WAIT_MS }).toBeGreaterThan(0);
    expect(await page.locator('#log .log-entry[data-kind="in"]', { hasText: 'stream:second' }).count()).toBeGreaterThan(0);
    expect(await kafkaEntries().count()).toBe(1);
    expect(problems).toEqual([]);
    await page.context().close();
  });
});
