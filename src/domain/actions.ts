/**
 * `client:event` types and `client:action` actions are answered by named handlers. The
 * server ships a few built-ins; anything else may be forwarded to the application's
 * backend (the way Centrifugo proxies RPC).
 */
export type ActionKind = 'event' | 'action';

export interface ActionContext {
  userId: string | undefined;
  tenantId: string | undefined;
  authenticated: boolean;
  socketId: string;
  machineId: string | undefined;
  rooms: readonly string[];
}

export type ActionHandler = (input: unknown, context: ActionContext) => unknown;

/**
 * Forwards an unknown action to the backend and resolves with its JSON answer. Rejects
 * with AppError('UNKNOWN_ACTION') when the backend does not know it either, and
 * AppError('BAD_GATEWAY') when the backend fails or times out.
 */
export interface ActionForwarder {
  forward(kind: ActionKind, name: string, input: unknown, context: ActionContext): Promise<unknown>;
}
