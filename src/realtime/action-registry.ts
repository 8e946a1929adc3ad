import type { ActionContext, ActionForwarder, ActionHandler, ActionKind } from '../domain/actions.js';
import { AppError } from '../errors.js';

const BUILT_INS: Record<string, ActionHandler> = {
  echo: (input) => input ?? null,
  whoami: (_input, ctx) => ({
    userId: ctx.userId ?? null,
    tenantId: ctx.tenantId ?? null,
    authenticated: ctx.authenticated,
    socketId: ctx.socketId,
    machineId: ctx.machineId ?? null,
  }),
  rooms: (_input, ctx) => ({ rooms: ctx.rooms }),
  time: () => ({ timestamp: new Date().toISOString(), epochMs: Date.now() }),
};

export interface ActionRegistry {
  run(kind: ActionKind, name: string, input: unknown, context: ActionContext): Promise<unknown>;
}

/** Built-in handlers first, then the backend forwarder when one is configured. */
export function createActionRegistry(forwarder?: ActionForwarder): ActionRegistry {
  return {
    async run(kind, name, input, context) {
      const builtIn = Object.hasOwn(BUILT_INS, name) ? BUILT_INS[name] : undefined;
      if (builtIn) return builtIn(input, context);
      if (forwarder) return forwarder.forward(kind, name, input, context);
      throw new AppError('UNKNOWN_ACTION', `Unknown ${kind === 'event' ? 'event type' : 'action'}: ${name}`);
    },
  };
}
