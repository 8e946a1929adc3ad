import type { Clock } from '../domain/clock.js';
import type { Logger } from '../observability/logger.js';

/**
 * When an inbox store deletes its expired notifications, whatever its engine: once at
 * open (what expired while the server was down), then every `intervalMs`; one purge at a
 * time (a call while one runs joins it), and a failed purge is logged and tried again at
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
  /** Deletes everything expired by now; resolves with how many notifications went. */
  purgeAll: () => Promise<number>;
  /** Whether the store is still open (the timer is not set again once it is not). */
  isOpen: () => boolean;
}): InboxPurgeSchedule {
  const { clock, logger } = options;
  let purging: Promise<number> | undefined;
  let cancel: (() => void) | undefined;
  const warn = (err: unknown) => logger.warn({ err }, 'could not delete expired notifications; will try again');

  function purgeExpired(): Promise<number> {
    purging ??= options.purgeAll().finally(() => {
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
