import { describe, expect, it } from 'vitest';
import type { NotificationRecord } from '../../src/contracts/inbox.js';
import { LONG } from './support/fuzz-run.js';
import { readAllNotifications } from './support/inbox-pages.js';
import { ownedServer } from './support/owned-server.js';
import { eventually } from '../support/eventually.js';

const KEY = 'inbox-sigkill-key-0123456789';
const KILLS = LONG ? 10 : 3;
/** Pushes in flight at once; each lane sends one at a time. */
const LANES = 8;
const USERS = Array.from({ length: 12 }, (_, i) => `sigkill-user-${i}`);

/** One push as sent; kept for its retry when the server died before answering. */
interface Push {
  idempotencyKey: string;
  userIds: string[];
  title: string;
}

interface Acknowledged extends Push {
  notificationIds: string[];
}

/** Sends the push; `replayed` when the server had stored it before (the same key). */
async function sendPush(url: string, push: Push): Promise<{ notificationIds: string[]; replayed: boolean }> {
  const res = await fetch(`${url}/api/push`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-API-Key': KEY },
    body: JSON.stringify({ userIds: push.userIds, persist: true, idempotencyKey: push.idempotencyKey, data: { type: 'info', title: push.title } }),
  });
  const body = (await res.json()) as { notificationIds?: string[] };
  if (res.status !== 200 || body.notificationIds === undefined) throw new Error(`push answered ${res.status}: ${JSON.stringify(body)}`);
  return { notificationIds: body.notificationIds, replayed: res.headers.get('idempotent-replayed') === 'true' };
}

describe('SIGKILL during a burst of stored pushes', () => {
  const owned = ownedServer();

  it(
    `keeps every acknowledged notification, exactly once, through ${KILLS} SIGKILLs`,
    async () => {
      const dir = await owned.tempDir('inbox-sigkill-');
      const env = {
        CHAT_SESSIONS_DIR: dir,
        API_KEYS: KEY,
        RATE_LIMIT_HTTP_PER_MINUTE: '10000000',
        // Far more than the burst stores per user: the cap is not what is tested here.
        INBOX_MAX_PER_USER: '1000000',
      };
      const acknowledged: Acknowledged[] = [];
      /** Pushes the server died with in flight: retried with the same key after the restart. */
      let inFlight: Push[] = [];
      let sent = 0;
      let retried = 0;
      let retriedAlreadyStored = 0;

      const nextPush = (): Push => {
        const n = sent++;
        const first = n % USERS.length;
        const userIds = [USERS[first]!, ...(n % 3 === 0 ? [USERS[(first + 5) % USERS.length]!] : [])];
        return { idempotencyKey: `push-${n}`, userIds, title: `push ${n}` };
      };

      for (let kill = 1; kill <= KILLS; kill++) {
        const server = await owned.start(env);
        let sending = true;
        let acknowledgedThisRound = 0;
        let failure: unknown;

        const send = async (push: Push): Promise<boolean> => {
          try {
            const { notificationIds, replayed } = await sendPush(server.url, push);
            acknowledged.push({ ...push, notificationIds });
            acknowledgedThisRound += 1;
            return replayed;
          } catch (err) {
            // The server died with this push in flight: it was never acknowledged.
            if (sending) throw err;
            inFlight.push(push);
            return false;
          }
        };
        // First the pushes the last kill interrupted, with their keys: a retry never stores twice.
        const retries = inFlight;
        inFlight = [];
        for (const push of retries) {
          retried += 1;
          if (await send(push)) retriedAlreadyStored += 1;
        }
        const lanes = Array.from({ length: LANES }, async () => {
          while (sending) await send(nextPush());
        });
        const workers = lanes.map((lane) =>
          lane.catch((err: unknown) => {
            failure ??= err;
          }),
        );
        // A different moment in the burst each round.
        const killAfter = 100 + Math.floor(Math.random() * 150);
        await eventually(async () => acknowledgedThisRound >= killAfter || failure !== undefined, `${killAfter} acknowledged in this round`, 60_000, 2);
        if (failure !== undefined) throw failure;
        sending = false;
        const exited = owned.stop('SIGKILL');
        await Promise.all(workers);
        await exited;
        if (failure !== undefined) throw failure;
      }

      // After the last kill: start once more, retry what was in flight, and read everything back.
      const final = await owned.start(env);
      for (const push of inFlight) {
        const { notificationIds, replayed } = await sendPush(final.url, push);
        acknowledged.push({ ...push, notificationIds });
        retried += 1;
        if (replayed) retriedAlreadyStored += 1;
      }
      const stored = new Map<string, NotificationRecord[]>();
      for (const userId of USERS) stored.set(userId, await readAllNotifications(final.url, userId, KEY));
      await owned.stop('SIGTERM');

      const lost: string[] = [];
      const wrong: string[] = [];
      for (const push of acknowledged) {
        push.userIds.forEach((userId, index) => {
          const id = push.notificationIds[index]!;
          const record = stored.get(userId)!.find((n) => n.id === id);
          if (record === undefined) lost.push(`${push.idempotencyKey} for ${userId} (${id})`);
          else if (record.title !== push.title) wrong.push(`${id}: ${record.title} instead of ${push.title}`);
        });
      }
      const titles = [...stored.entries()].flatMap(([userId, records]) => records.map((n) => `${userId}: ${n.title}`));
      const duplicated = titles.filter((title, index) => titles.indexOf(title) !== index);

      expect(lost).toEqual([]);
      expect(wrong).toEqual([]);
      // A push retried after a crash, stored before it or not, is in each inbox once.
      expect(duplicated).toEqual([]);
      for (const records of stored.values()) {
        const ids = records.map((n) => Number(n.id));
        expect(ids).toEqual([...ids].sort((a, b) => b - a));
      }
      console.log(
        `inbox SIGKILL: ${KILLS} kills, ${acknowledged.length} pushes acknowledged, ${lost.length} lost, ${duplicated.length} duplicated; ` +
          `${titles.length} notifications stored; ${retried} in-flight pushes retried after a restart, ${retriedAlreadyStored} of them already stored`,
      );
    },
    LONG ? 30 * 60_000 : 180_000,
  );
});
