import type { NotificationRecord } from '../../../src/contracts/inbox.js';

/** Every notification of a user's inbox over REST, page after page, newest first. */
export async function readAllNotifications(baseUrl: string, userId: string, apiKey: string): Promise<NotificationRecord[]> {
  const all: NotificationRecord[] = [];
  let before: string | undefined;
  for (;;) {
    const query = `limit=100${before === undefined ? '' : `&before=${before}`}`;
    const res = await fetch(`${baseUrl}/api/users/${userId}/notifications?${query}`, { headers: { 'X-API-Key': apiKey } });
    if (res.status !== 200) throw new Error(`GET inbox of ${userId} answered ${res.status}: ${await res.text()}`);
    const page = (await res.json()) as { notifications: NotificationRecord[]; nextBefore?: string };
    all.push(...page.notifications);
    if (page.nextBefore === undefined) return all;
    before = page.nextBefore;
  }
}
