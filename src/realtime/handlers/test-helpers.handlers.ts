import { TEST_HELPER_DEFAULTS, testNotificationPayloadSchema } from '../../contracts/test-helpers.js';
import type { Clock } from '../../domain/clock.js';
import type { InboxService } from '../../domain/inbox-service.js';
import { orDefault, sendTestNotification } from '../../domain/test-notifications.js';
import { AppError } from '../../errors.js';
import type { HandleDependencies, HandlerRegistry } from '../handle.js';

export interface TestHelperHandlerDependencies extends HandleDependencies {
  inbox: InboxService;
  clock: Clock;
}

/**
 * The development helpers over sockets (seed 003): `test:notification` stores a
 * notification in the caller's own inbox and answers the record on its ack and on
 * `test:notification:ack`. The caller's sockets get `notification`, `notification:new` and
 * `notification:unread-count` before the answer. Registered only while the test helpers
 * are on; otherwise the event is unknown (UNKNOWN_ACTION, see handle.ts).
 */
export function registerTestHelperHandlers(handlers: HandlerRegistry, deps: TestHelperHandlerDependencies): void {
  const { inbox, clock } = deps;
  const defaults = TEST_HELPER_DEFAULTS.notification;

  handlers.on(
    'test:notification',
    testNotificationPayloadSchema,
    async (payload, socket) => {
      const { userId, tenantId } = socket.data;
      if (userId === undefined) throw new AppError('UNAUTHORIZED', 'Connect with a token, or register first');
      const { type, priority, title, message, data } = payload ?? {};
      const { record } = await sendTestNotification(
        inbox,
        { userId, tenantId },
        {
          type: orDefault(type, defaults.type),
          priority,
          title: orDefault(title, defaults.title),
          message: orDefault(message, defaults.message),
          data,
        },
        new Date(clock.now()).toISOString(),
      );
      return { success: true as const, notification: record };
    },
    { reply: 'test:notification:ack' },
  );
}
