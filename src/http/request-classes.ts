import { IncomingMessage, ServerResponse } from 'node:http';
import type { Express } from 'express';

/**
 * Request and response classes for the HTTP server whose instances are born with the
 * Express app's prototypes, instead of being given them per request.
 *
 * Express makes `req` and `res` its own by `Object.setPrototypeOf` on every request
 * (app.handle). Changing an object's prototype migrates it to a new V8 map, and each
 * request's objects then miss the inline caches of the code that reads them: under
 * callgrind, map migration and property lookups through the slow path were about a fifth
 * of the instructions of an HTTP push, for this server and for the bare reference alike.
 * Node lets a server construct its requests and responses from given classes
 * (`createServer({ IncomingMessage, ServerResponse })`). These are Node's own classes,
 * subclassed (so V8 lays their instances out as Node's); `adopt` then makes each class's
 * prototype the app's `request` / `response` (it takes over their members and their place
 * in the chain, and the app is pointed at it), so Express's `setPrototypeOf` finds the
 * prototype already set and V8 changes nothing.
 *
 * The server must exist before the app (Socket.IO attaches to it first), so until `adopt`
 * the classes behave as Node's: requests before that (none reach Express) are plain.
 * WebSocket handshakes, which Socket.IO keeps for the connection's life, are built the same
 * way; as subclass instances they take no more memory than Node's (a constructor function
 * calling Node's instead measured 1.3 KiB more heap per idle connection).
 */
export interface RequestClasses {
  IncomingMessage: typeof IncomingMessage;
  ServerResponse: typeof ServerResponse;
  /** From now on, requests and responses have the app's `request` and `response` as prototypes. */
  adopt(app: Express): void;
}

export function createRequestClasses(): RequestClasses {
  class AppIncomingMessage extends IncomingMessage {}
  class AppServerResponse extends ServerResponse {}
  return {
    IncomingMessage: AppIncomingMessage,
    ServerResponse: AppServerResponse as typeof ServerResponse,
    adopt(app) {
      app.request = takeOver(AppIncomingMessage.prototype, app.request);
      app.response = takeOver(AppServerResponse.prototype, app.response);
    },
  };
}

/** Makes `target` stand where `source` stands: the same prototype and the same own members. */
function takeOver<T extends object>(target: object, source: T): T {
  Object.setPrototypeOf(target, Object.getPrototypeOf(source) as object | null);
  Object.defineProperties(target, Object.getOwnPropertyDescriptors(source));
  return target as T;
}
