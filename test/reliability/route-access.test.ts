import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Access, RouteDefinition } from '../../src/http/route-definition.js';
import { routeTable } from '../../src/http/route-table.js';
import { startServer, type TestServer } from '../support/server.js';
import { signToken } from '../support/tokens.js';

/**
 * Item 6 of issue 10: access used to be decided by path lists that disagreed with Express's
 * case-insensitive, slash-tolerant routing, so `GET /api/users/alice/presence/` answered a
 * user's token with 200 while the exact path answered 401. Every route now carries its
 * access in the route table. This file walks that table, so a route added to it is covered
 * without touching this file: each route, called without credentials, with a user's token
 * and with an API key, answers what its access says; every variant spelling of its path is
 * 404 for everyone; /openapi.json documents exactly these routes with this security.
 */

const KEY = 'route-access-key-0123456789';

type Caller = 'nobody' | 'user' | 'apiKey';
type Outcome = 'allowed' | 401;

/** What each kind of caller gets, by the route's access (API keys configured). */
const EXPECTED: Record<Access, Record<Caller, Outcome>> = {
  public: { nobody: 'allowed', user: 'allowed', apiKey: 'allowed' },
  apiKey: { nobody: 401, user: 401, apiKey: 'allowed' },
  dev: { nobody: 401, user: 401, apiKey: 'allowed' },
  apiKeyOrUser: { nobody: 401, user: 'allowed', apiKey: 'allowed' },
  user: { nobody: 401, user: 'allowed', apiKey: 401 },
  testHelper: { nobody: 401, user: 'allowed', apiKey: 401 },
};

/** The security each access must show in /openapi.json. */
const SECURITY: Record<Access, unknown> = {
  public: undefined,
  apiKey: [{ apiKey: [] }],
  dev: [{ apiKey: [] }],
  apiKeyOrUser: [{ apiKey: [] }, { bearer: [] }],
  user: [{ bearer: [] }],
  testHelper: [{ bearer: [] }],
};

/** The route's path with each `:param` replaced by the example its schema gives. */
function concretePath(route: RouteDefinition): string {
  return route.path.replace(/:(\w+)/g, (_match, name: string) => {
    const schema = route.request.params?.shape[name] as z.ZodType | undefined;
    const example = schema === undefined ? undefined : z.globalRegistry.get(schema)?.example;
    if (typeof example !== 'string') throw new Error(`${route.path}: give the :${name} schema a string example (.meta({ example }))`);
    return encodeURIComponent(example);
  });
}

/**
 * Spellings of the route's path that are not the route: each changes a literal part of
 * it, so the only right answer is 404 for every caller.
 */
function variantsOf(route: RouteDefinition): string[] {
  const path = concretePath(route);
  const segments = path.split('/').slice(1);
  const literal = segments.findIndex((segment) => /^[a-z]/.test(segment));
  const withSegment = (index: number, replace: (segment: string) => string) =>
    `/${segments.map((segment, i) => (i === index ? replace(segment) : segment)).join('/')}`;
  const variants = [
    `${path}/`,
    `${path}/.`,
    `${path}//`,
    `/${path}`,
    path.toUpperCase(),
    withSegment(literal, (segment) => segment[0]!.toUpperCase() + segment.slice(1)),
    withSegment(literal, (segment) => `%${segment.charCodeAt(0).toString(16)}${segment.slice(1)}`),
    withSegment(literal, (segment) => `${segment}/.`),
    withSegment(literal, (segment) => `./${segment}`),
  ];
  if (segments.length > 1) variants.push(path.replace(/\/(?=[^/]*$)/, '//'), `/${segments.join('%2F')}`);
  // After a parameter, `%2F` would only change the parameter's value: the same route.
  if (!/:\w+$/.test(route.path)) variants.push(`${path}%2F`);
  return [...new Set(variants)];
}

describe('route access comes from the route table, for every route and every spelling of its path', () => {
  let t: TestServer;
  let userToken: string;
  let documented: Record<string, Record<string, { security?: unknown; responses: Record<string, unknown> }>>;

  beforeAll(async () => {
    t = await startServer({ API_KEYS: KEY, RATE_LIMIT_HTTP_PER_MINUTE: '10000000' });
    userToken = signToken({ userId: 'user-123' }, { secret: t.config.jwt.secret });
    documented = (await request(t.url).get('/openapi.json').expect(200)).body.paths;
  });
  afterAll(() => t.close());

  const send = (method: string, path: string, caller: Caller) => {
    let req = request(t.url)[method as 'get' | 'post' | 'delete'](path);
    if (caller === 'user') req = req.set('Authorization', `Bearer ${userToken}`);
    if (caller === 'apiKey') req = req.set('X-API-Key', KEY);
    return method === 'get' || method === 'delete' ? req : req.send({});
  };

  const routes = routeTable.map((route) => [`${route.method.toUpperCase()} ${route.path} (${route.access})`, route] as const);

  it('walks a table that has every kind of access', () => {
    expect(new Set(routeTable.map((route) => route.access))).toEqual(new Set(Object.keys(EXPECTED)));
  });

  describe.each(routes)('%s', (_name, route) => {
    const path = concretePath(route);

    it.each(['nobody', 'user', 'apiKey'] as const)('the exact path answers %s as its access says', async (caller) => {
      const res = await send(route.method, path, caller);
      const operation = documented[route.path.replace(/:(\w+)/g, '{$1}')]?.[route.method];
      expect(operation, 'documented in /openapi.json').toBeDefined();
      if (EXPECTED[route.access][caller] === 401) {
        expect(res.status).toBe(401);
        expect(res.body).toMatchObject({ success: false, code: 'UNAUTHORIZED' });
      } else {
        // Past the guards: whatever the route answers is one of its documented answers,
        // never a refusal of the caller.
        expect([401, 403]).not.toContain(res.status);
        expect(Object.keys(operation!.responses)).toContain(String(res.status));
        if (res.status === 404) expect(res.body.error).not.toMatch(/^No route/);
      }
    });

    it.each(variantsOf(route))('%s is 404 for everyone', async (variant) => {
      const answers: Record<string, string> = {};
      for (const caller of ['nobody', 'user', 'apiKey'] as const) {
        const res = await send(route.method, variant, caller);
        answers[caller] = `${res.status} ${res.body.code}`;
      }
      expect(answers).toEqual({ nobody: '404 NOT_FOUND', user: '404 NOT_FOUND', apiKey: '404 NOT_FOUND' });
    });
  });

  it.each(['/', '/index.html', '/app.js', '/styles.css', '/favicon.svg', '/docs', '/docs/docs-init.js', '/docs/swagger-ui.css', '/openapi.json'])(
    'serves %s, which is not an API route, to anyone',
    async (path) => {
      await request(t.url).get(path).expect(200);
    },
  );

  it('/openapi.json lists exactly the routes of the table, each with the security of its access', () => {
    const listed = Object.entries(documented).flatMap(([path, operations]) =>
      Object.entries(operations).map(([method, operation]) => ({ route: `${method.toUpperCase()} ${path}`, security: operation.security })),
    );
    const table = routeTable.map((route) => ({
      route: `${route.method.toUpperCase()} ${route.path.replace(/:(\w+)/g, '{$1}')}`,
      security: SECURITY[route.access],
    }));
    const byRoute = (a: { route: string }, b: { route: string }) => a.route.localeCompare(b.route);
    expect(listed.sort(byRoute)).toEqual(table.sort(byRoute));
  });
});

describe('routes that do not exist in production', () => {
  let t: TestServer;
  const productionKey = randomBytes(32).toString('base64url');
  beforeAll(async () => {
    t = await startServer({
      NODE_ENV: 'production',
      API_KEYS: productionKey,
      JWT_SECRET: randomBytes(48).toString('base64'),
      ALLOWED_ORIGINS: 'https://app.example.com',
    });
  });
  afterAll(() => t.close());

  it('are neither mounted nor documented', async () => {
    const devOnly = routeTable.filter((route) => route.access === 'dev');
    expect(devOnly.length).toBeGreaterThan(0);
    await expectAbsent(devOnly);
  });

  it('include the test helpers, even for a valid user token (ENABLE_TEST_ENDPOINTS is not set)', async () => {
    const helpers = routeTable.filter((route) => route.access === 'testHelper');
    expect(helpers.length).toBeGreaterThan(0);
    await expectAbsent(helpers);
  });

  async function expectAbsent(routes: readonly RouteDefinition[]): Promise<void> {
    const userToken = signToken({ userId: 'user-123' }, { secret: t.config.jwt.secret });
    const paths = (await request(t.url).get('/openapi.json').expect(200)).body.paths as Record<string, Record<string, unknown>>;
    for (const route of routes) {
      expect(paths[route.path]?.[route.method]).toBeUndefined();
      const res = await request(t.url)[route.method](concretePath(route)).set('X-API-Key', productionKey).send({});
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('NOT_FOUND');
      const asUser = await request(t.url)[route.method](concretePath(route)).set('Authorization', `Bearer ${userToken}`).send({});
      expect(asUser.status).toBe(404);
      expect(asUser.body.code).toBe('NOT_FOUND');
    }
  }
});
