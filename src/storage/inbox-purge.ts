import type { Clock } from '../domain/clock.js';
import type { Logger } from '../observability/logger.js';

/**
 * When an inbox store deletes its expired notifications, whatever its engine: once at
 * open (what expired while the server was down), then every `intervalMs`; one purge at a
 * time (a call while one runs joins it), in chunks of at most `chunkSize` rows (one
 * transaction each, so a purge after a long pause never holds the store for long) until a
 * chunk comes back short or the store closes; a failed purge is logged and tried again at
 * the next tick.
 */
export interface InboxPurgeSchedule {
  /** Starts the timer and runs a first purge now. */
  start(): void;
  /** Stops the timer; resolves once a purge in progress has ended. */
  stop(): Promise<void>;
  /** Runs a purge now (or joins the one running); resolves with the notifications deleted. */
  purgeExpired(): Promise<number>;
}

export function createInboxPurgeSchedule(options: {
  clock: Clock;
  logger: Logger;
  intervalMs: number;
  /** Deletes at most `chunkSize` expired notifications in one transaction; resolves with how many went. */
  purgeChunk: () => Promise<number>;
  chunkSize: number;
  /** Whether the store is still open (the timer is not set again once it is not). */
  isOpen: () => boolean;
}): InboxPurgeSchedule {
  const { clock, logger } = options;
  let purging: Promise<number> | undefined;
  let cancel: (() => void) | undefined;
  const warn = (err: unknown) => logger.warn({ err }, 'could not delete expired notifications; will try again');

  async function purgeAll(): Promise<number> {
    let purged = 0;
    for (;;) {
      if (!options.isOpen()) return purged;
      const deleted = await options.purgeChunk();
      purged += deleted;
      if (deleted < options.chunkSize) return purged;
    }
  }

  function purgeExpired(): Promise<number> {
    purging ??= purgeAll().finally(() => {
      purging = undefined;
    });
    return purging;
  }

  function schedule(): void {
    cancel = clock.schedule(() => {
      purgeExpired()
        .catch(warn)
        .finally(() => {
          if (options.isOpen()) schedule();
        });
    }, options.intervalMs);
  }

  return {
    start() {
      schedule();
      purgeExpired().catch(warn);
    },
    async stop() {
      cancel?.();
      await purging?.catch(() => undefined);
    },
    purgeExpired,
  };
}
