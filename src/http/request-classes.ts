import { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
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
 * (`createServer({ IncomingMessage, ServerResponse })`); these construct exactly Node's
 * objects, with the Express app's `request` and `response` as prototypes once `adopt` has
 * been called, so Express's `setPrototypeOf` finds the prototype already set and changes
 * nothing (V8 returns early when it is the same).
 *
 * The server must exist before the app (Socket.IO attaches to it first), so the classes
 * start out with Node's own prototypes, which is what they are until `adopt`: requests
 * before that (none reach Express) are Node's plain objects.
 */
export interface RequestClasses {
  IncomingMessage: typeof IncomingMessage;
  ServerResponse: typeof ServerResponse;
  /** From now on, new requests and responses have `app.request` and `app.response` as prototypes. */
  adopt(app: Express): void;
}

export function createRequestClasses(): RequestClasses {
  // Constructor functions rather than classes: a class's `prototype` cannot be replaced,
  // and Node's own IncomingMessage and ServerResponse are plain functions to call.
  function AppIncomingMessage(this: IncomingMessage, socket: Socket): void {
    (IncomingMessage as unknown as (this: IncomingMessage, socket: Socket) => void).call(this, socket);
  }
  function AppServerResponse(this: ServerResponse, req: IncomingMessage, options?: unknown): void {
    (ServerResponse as unknown as (this: ServerResponse, req: IncomingMessage, options?: unknown) => void).call(this, req, options);
  }
  AppIncomingMessage.prototype = IncomingMessage.prototype;
  AppServerResponse.prototype = ServerResponse.prototype;
  return {
    IncomingMessage: AppIncomingMessage as unknown as typeof IncomingMessage,
    ServerResponse: AppServerResponse as unknown as typeof ServerResponse,
    adopt(app) {
      AppIncomingMessage.prototype = app.request;
      AppServerResponse.prototype = app.response;
    },
  };
}
