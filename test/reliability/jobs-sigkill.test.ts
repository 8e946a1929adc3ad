import { describe, expect, it } from 'vitest';
import type { AckFailure } from '../../src/contracts/error-codes.js';
import type { JobRecord, JobReply, JobState } from '../../src/contracts/jobs.js';
import { connectClient, type TestSocket } from '../support/client.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';
import { LONG } from './support/fuzz-run.js';
import { ownedServer } from './support/owned-server.js';
import { eventually } from '../support/eventually.js';

const KEY = 'jobs-sigkill-key-0123456789';
const KILLS = LONG ? 10 : 3;
/** Jobs worked at once: each lane is one assignee with its socket, taking one job at a time through its life. */
const LANES = 8;

/** The steps of a job's life here, in order; `rank` compares how far a job got. */
const STEPS = ['assigned', 'started', 'completed'] as const satisfies readonly JobState[];
type Step = (typeof STEPS)[number];
const rank = (state: JobState) => STEPS.indexOf(state as Step);

interface Tracked {
  jobId: string;
  assigneeId: string;
  /** The last step the server acknowledged (undefined: not even the creation). */
  acknowledged: Step | undefined;
}

/** Resolves with the ack; rejects when the socket drops first (the server was killed), never waiting out a timer. */
function request(socket: TestSocket, event: string, payload: unknown): Promise<JobReply | AckFailure> {
  return new Promise((resolve, reject) => {
    if (!socket.connected) return reject(new Error('not connected'));
    const onDrop = () => reject(new Error('the socket dropped before the ack'));
    socket.once('disconnect', onDrop);
    (socket as unknown as { emit(event: string, payload: unknown, ack: (reply: JobReply | AckFailure) => void): void }).emit(event, payload, (reply) => {
      socket.off('disconnect', onDrop);
      resolve(reply);
    });
  });
}

async function createJob(url: string, job: Tracked): Promise<JobRecord> {
  const res = await fetch(`${url}/api/jobs`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-API-Key': KEY },
    body: JSON.stringify({ jobId: job.jobId, subject: `work ${job.jobId}`, creatorId: 'producer', assigneeId: job.assigneeId, data: { pad: 'x'.repeat(200) } }),
  });
  const body = (await res.json()) as { job?: JobRecord };
  if ((res.status !== 201 && res.status !== 200) || body.job === undefined) throw new Error(`create answered ${res.status}: ${JSON.stringify(body)}`);
  return body.job;
}

async function readJob(url: string, jobId: string): Promise<JobRecord | undefined> {
  const res = await fetch(`${url}/api/jobs/${jobId}`, { headers: { 'X-API-Key': KEY } });
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new Error(`GET job ${jobId} answered ${res.status}`);
  return ((await res.json()) as { job: JobRecord }).job;
}

describe('SIGKILL between job transitions', () => {
  const owned = ownedServer();

  it(
    `keeps every acknowledged transition through ${KILLS} SIGKILLs, and a retry after the restart changes nothing twice`,
    async () => {
      const dir = await owned.tempDir('jobs-sigkill-');
      const env = {
        CHAT_SESSIONS_DIR: dir,
        API_KEYS: KEY,
        JWT_SECRET: TEST_SECRET,
        RATE_LIMIT_HTTP_PER_MINUTE: '10000000',
        RATE_LIMIT_WS_MESSAGES_PER_MINUTE: '10000000',
        RATE_LIMIT_WS_CONNECTIONS_PER_MINUTE: '10000000',
      };
      const jobs: Tracked[] = [];
      /** Each lane's job in progress, carried over a kill to be finished (and retried) after the restart. */
      const current: (Tracked | undefined)[] = Array.from({ length: LANES }, () => undefined);
      let created = 0;
      let retriedSteps = 0;

      /** Takes one job one step further; rejects when the server died before acknowledging it. */
      async function advance(url: string, socket: TestSocket, job: Tracked): Promise<void> {
        if (job.acknowledged === undefined) {
          const stored = await createJob(url, job);
          if (stored.state !== 'assigned' && rank(stored.state) < 0) throw new Error(`created ${job.jobId} as ${stored.state}`);
          job.acknowledged = 'assigned';
          return;
        }
        const event = job.acknowledged === 'assigned' ? 'job:start' : 'job:complete';
        const reply = await request(socket, event, event === 'job:start' ? { jobId: job.jobId } : { jobId: job.jobId, note: `done ${job.jobId}` });
        if (!reply.success) throw new Error(`${event} of ${job.jobId} refused: ${reply.code} ${reply.error}`);
        job.acknowledged = reply.job.state as Step;
      }

      const runRound = async (final: boolean) => {
        const server = await owned.start(env);
        let running = true;
        let failure: unknown;
        let acknowledgedThisRound = 0;
        const lanes = Array.from({ length: LANES }, async (_, lane) => {
          const assigneeId = `worker-${lane}`;
          const socket = await connectClient(server.url, { auth: { token: signToken({ userId: assigneeId }) } });
          // A job the last kill interrupted: its next step is a retry of one that may have been stored.
          if (current[lane] !== undefined) retriedSteps += 1;
          try {
            // One lane, one job at a time; after a kill its job in progress is finished first.
            while (running) {
              let job = current[lane];
              if (job === undefined) {
                job = { jobId: `job-${created++}`, assigneeId, acknowledged: undefined };
                jobs.push(job);
                current[lane] = job;
              }
              try {
                await advance(server.url, socket, job);
              } catch (err) {
                if (running) throw err;
                return; // killed mid-step: this step was not acknowledged
              }
              acknowledgedThisRound += 1;
              if (job.acknowledged === 'completed') {
                current[lane] = undefined;
                if (final) return;
              }
            }
          } finally {
            socket.close();
          }
        });
        const workers = lanes.map((lane) =>
          lane.catch((err: unknown) => {
            failure ??= err;
          }),
        );
        if (final) {
          await Promise.all(workers);
          if (failure !== undefined) throw failure;
          return server;
        }
        // A different moment each round.
        const killAfter = 60 + Math.floor(Math.random() * 120);
        await eventually(async () => acknowledgedThisRound >= killAfter || failure !== undefined, `${killAfter} acknowledged in this round`, 60_000, 2);
        if (failure !== undefined) throw failure;
        running = false;
        const exited = owned.stop('SIGKILL');
        await Promise.all(workers);
        await exited;
        if (failure !== undefined) throw failure;
        return server;
      };

      for (let kill = 1; kill <= KILLS; kill++) await runRound(false);
      // After the last kill: start once more and finish every job in progress (each retry first).
      const final = await runRound(true);

      const lost: string[] = [];
      const wrong: string[] = [];
      for (const job of jobs) {
        const stored = await readJob(final.url, job.jobId);
        if (job.acknowledged === undefined) continue;
        if (stored === undefined) {
          lost.push(`${job.jobId} (acknowledged ${job.acknowledged})`);
          continue;
        }
        if (rank(stored.state) < rank(job.acknowledged)) lost.push(`${job.jobId}: ${stored.state}, acknowledged ${job.acknowledged}`);
        // Every step happened once, in order, by the right user.
        const steps = stored.history.map(({ to, by }) => `${to}:${by ?? 'backend'}`);
        const expected = ['created:backend', 'assigned:backend', 'started:' + job.assigneeId, 'completed:' + job.assigneeId].slice(0, rank(stored.state) + 2);
        if (JSON.stringify(steps) !== JSON.stringify(expected)) wrong.push(`${job.jobId}: ${steps.join(' ')}`);
        if (stored.state === 'completed' && stored.note !== `done ${job.jobId}`) wrong.push(`${job.jobId}: note ${stored.note}`);
      }
      await owned.stop('SIGTERM');

      expect(lost).toEqual([]);
      expect(wrong).toEqual([]);
      expect(jobs.every((job) => job.acknowledged === 'completed')).toBe(true);
      console.log(
        `jobs SIGKILL: ${KILLS} kills, ${jobs.length} jobs taken through ${jobs.length * 3} acknowledged steps, ${lost.length} lost, ` +
          `${wrong.length} with a wrong history; ${retriedSteps} steps retried after a restart`,
      );
    },
    LONG ? 30 * 60_000 : 180_000,
  );
});
