import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { JobRecord } from '../../src/contracts/jobs.js';
import { connectAs, HAS_CHROMIUM, recordProblems, screenshot, shown, skippedTitle, useServerAndBrowser, WAIT_MS } from './browser.js';

/**
 * The test page's Jobs panel in Chromium: a producer's page creates a job with the
 * development helper (`test:create-job`) and assigns it to another user; that user's page
 * shows it with Start, then Complete with a note; both pages follow every step from the
 * server's acks and `job:*` events, the producer's inbox holds the started and completed
 * notifications, and the job as stored says the same. Screenshots go to test-artifacts/.
 */

const WIDE = { width: 1440, height: 900 };
const PHONE = { width: 390, height: 844 };

describe.skipIf(!HAS_CHROMIUM)(skippedTitle('test page jobs: a producer and an assignee (Chromium)'), () => {
  const live = useServerAndBrowser();
  const problems: string[] = [];
  let producer: Page;
  let assignee: Page;
  let jobId: string;

  async function openAs(userId: string, viewport: { width: number; height: number }): Promise<Page> {
    const page = await (await live.browser.newContext({ viewport })).newPage();
    recordProblems(page, problems);
    await connectAs(page, live.server.url, userId);
    return page;
  }

  async function storedJob(id: string): Promise<JobRecord> {
    const response = await fetch(`${live.server.url}/api/jobs/${id}`);
    expect(response.status).toBe(200);
    return ((await response.json()) as { job: JobRecord }).job;
  }

  const card = (page: Page, id: string) => page.locator(`#jobs-list .job-item[data-job-id="${id}"]`);
  const stateOf = (page: Page, id: string) => card(page, id).getAttribute('data-state');

  it('creates a job from the page with test:create-job, the producer as its creator', { timeout: 40_000 }, async () => {
    producer = await openAs('producer', WIDE);
    assignee = await openAs('mixer', PHONE);
    await shown(producer, '#job-create:not([disabled])');

    await producer.fill('#job-subject', 'Master track 4');
    await producer.fill('#job-project', '12');
    await producer.click('#job-create');
    await shown(producer, '#jobs-list .job-item');
    jobId = (await producer.locator('#jobs-list .job-item').first().getAttribute('data-job-id'))!;
    expect(jobId).toMatch(/^\d+$/);
    expect(await stateOf(producer, jobId)).toBe('created');
    expect(await card(producer, jobId).locator('.job-subject').textContent()).toBe('Master track 4');
    expect(await card(producer, jobId).locator('.job-who').textContent()).toBe('not assigned · created by producer');
    // Nobody is its assignee yet: no Start anywhere.
    expect(await card(producer, jobId).getByRole('button', { name: /^Start/ }).isHidden()).toBe(true);
    expect(await storedJob(jobId)).toMatchObject({ subject: 'Master track 4', projectId: 12, jobTypeId: 2, creatorId: 'producer', state: 'created' });
  });

  it('assigns it: the assignee’s page shows it with Start, the producer’s without', { timeout: 30_000 }, async () => {
    await card(producer, jobId).getByRole('textbox', { name: `Assignee for job ${jobId}` }).fill('mixer');
    await card(producer, jobId).getByRole('button', { name: `Assign job ${jobId}` }).click();
    await expect.poll(() => stateOf(producer, jobId), { timeout: WAIT_MS }).toBe('assigned');

    await card(assignee, jobId).waitFor({ state: 'visible', timeout: WAIT_MS });
    expect(await stateOf(assignee, jobId)).toBe('assigned');
    expect(await card(assignee, jobId).locator('.job-who').textContent()).toBe('assignee mixer · created by producer');
    expect(await card(assignee, jobId).getByRole('button', { name: `Start job ${jobId}` }).isVisible()).toBe(true);
    expect(await card(producer, jobId).getByRole('button', { name: `Start job ${jobId}` }).isHidden()).toBe(true);
    await expect.poll(() => assignee.locator('#jobs-feed .job-event', { hasText: 'job:assigned' }).count(), { timeout: WAIT_MS }).toBe(1);
    // The assignment is in the assignee's inbox too.
    await assignee.locator('#inbox-list .inbox-item', { hasText: 'Job assigned to you' }).waitFor({ state: 'visible', timeout: WAIT_MS });
  });

  it('the assignee starts and completes it; both pages follow, and the producer’s inbox is told', { timeout: 30_000 }, async () => {
    await card(assignee, jobId).getByRole('button', { name: `Start job ${jobId}` }).click();
    for (const page of [assignee, producer]) await expect.poll(() => stateOf(page, jobId), { timeout: WAIT_MS }).toBe('started');

    await card(assignee, jobId).getByRole('textbox', { name: `Completion note for job ${jobId}` }).fill('Bounced to WAV');
    await card(assignee, jobId).getByRole('button', { name: `Complete job ${jobId}` }).click();
    for (const page of [assignee, producer]) {
      await expect.poll(() => stateOf(page, jobId), { timeout: WAIT_MS }).toBe('completed');
      expect(await card(page, jobId).locator('.job-note-text').textContent()).toBe('Note: Bounced to WAV');
      expect(await card(page, jobId).locator('.job-actions').isHidden()).toBe(true);
    }
    await expect.poll(() => producer.locator('#jobs-feed .job-event').allTextContents(), { timeout: WAIT_MS }).toEqual(
      expect.arrayContaining([expect.stringContaining('job:completed'), expect.stringContaining('started → completed by mixer')]),
    );
    for (const title of ['Job started', 'Job completed']) {
      await producer.locator('#inbox-list .inbox-item', { hasText: title }).waitFor({ state: 'visible', timeout: WAIT_MS });
    }
    // The job events belong to the Jobs panel, not to the Notifications cards.
    expect(await producer.locator('.card[data-event^="job:"]').count()).toBe(0);
    expect(await storedJob(jobId)).toMatchObject({ state: 'completed', assigneeId: 'mixer', note: 'Bounced to WAV' });
  });

  it('says in words what the server refused', async () => {
    await producer.fill('#job-subject', 'Second job');
    await producer.click('#job-create');
    await expect.poll(() => producer.locator('#jobs-list .job-item').count(), { timeout: WAIT_MS }).toBe(2);
    const second = (await producer.locator('#jobs-list .job-item').first().getAttribute('data-job-id'))!;
    await card(producer, second).getByRole('button', { name: `Assign job ${second}` }).click();
    await expect.poll(() => producer.textContent('#jobs-status'), { timeout: WAIT_MS }).toContain('Enter the user ID');
  });

  it('a page opened later loads the user’s jobs over REST', { timeout: 30_000 }, async () => {
    const later = await openAs('mixer', WIDE);
    await shown(later, '#jobs-load:not([disabled])');
    expect(await later.locator('#jobs-list .job-item').count()).toBe(0);
    await later.click('#jobs-load');
    await card(later, jobId).waitFor({ state: 'visible', timeout: WAIT_MS });
    expect(await stateOf(later, jobId)).toBe('completed');
    expect(await later.textContent('#jobs-status')).toContain('1 of your jobs loaded');
    await later.context().close();
  });

  it('fits 1440×900 and a phone screen', async () => {
    await producer.evaluate(`document.getElementById('jobs-panel').scrollIntoView()`);
    await screenshot(producer, 'wide-1440-jobs');
    await assignee.evaluate(`document.getElementById('jobs-panel').scrollIntoView()`);
    expect(await assignee.evaluate<boolean>('document.documentElement.scrollWidth > window.innerWidth')).toBe(false);
    await screenshot(assignee, 'phone-jobs');
  });

  it('logs no console errors, uncaught exceptions or failed requests', () => {
    expect(problems).toEqual([]);
  });
});
