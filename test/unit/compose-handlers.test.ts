import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { describe, expect, it } from 'vitest';
import { compose } from '../../src/http/api-router.js';

/**
 * A route's guards run as one composed handler (src/http/api-router.ts) instead of one
 * Express layer each; it must keep Express 5's contract for what ends a chain. The routes
 * themselves are exercised through the real server by every HTTP test.
 */

const req = {} as Request;
const res = {} as Response;

/** Runs the composed chain and resolves with what it handed to Express's `next`. */
function run(chain: RequestHandler[]): Promise<{ calledWith: unknown[]; ran: string[] }> {
  const ran: string[] = [];
  const named = chain.map((handler, i): RequestHandler => (rq, rs, nx) => {
    ran.push(`h${i}`);
    return handler(rq, rs, nx);
  });
  return new Promise((resolve) => {
    const done = ((...calledWith: unknown[]) => resolve({ calledWith, ran })) as NextFunction;
    compose(named)(req, res, done);
  });
}

const pass: RequestHandler = (_rq, _rs, next) => next();
const boom = new Error('boom');

describe('compose (a route chain as one handler)', () => {
  it('runs every handler in order, then hands over with no error', async () => {
    expect(await run([pass, pass, pass])).toEqual({ calledWith: [], ran: ['h0', 'h1', 'h2'] });
  });

  it('stops at next(err) and hands the error over', async () => {
    expect(await run([pass, (_rq, _rs, next) => next(boom), pass])).toEqual({ calledWith: [boom], ran: ['h0', 'h1'] });
  });

  it('stops at a thrown error', async () => {
    const throwing: RequestHandler = () => {
      throw boom;
    };
    expect(await run([pass, throwing, pass])).toEqual({ calledWith: [boom], ran: ['h0', 'h1'] });
  });

  it('stops at a rejected promise (an async handler that throws)', async () => {
    const rejecting: RequestHandler = async () => {
      await Promise.resolve();
      throw boom;
    };
    expect(await run([rejecting, pass])).toEqual({ calledWith: [boom], ran: ['h0'] });
  });

  it("leaves the route at next('route') without an error", async () => {
    expect(await run([(_rq, _rs, next) => next('route'), pass])).toEqual({ calledWith: [], ran: ['h0'] });
  });
});
