import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import dotenv from 'dotenv';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { estimatedBits } from '../../src/secret-strength.js';

/** Values of the shape `openssl rand` gives, fixed so the test reads the same every run. */
const STRONG = { API_KEYS: '3f9c1a7be2d84c60a5e91b7d2c4f8e06', JWT_SECRET: 'tQ3vX9mK2pL7sN4wR8yB1hF6jD0gC5zA+Ue/Ko2Wb8Yx' };

const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe('NODE_ID', () => {
  it('defaults to hostname-pid, takes a given name, and refuses one that is not a plain name', () => {
    expect(loadConfig({}).nodeId).toBe(`${hostname()}-${process.pid}`);
    expect(loadConfig({ NODE_ID: 'eu-1:a_b.c' }).nodeId).toBe('eu-1:a_b.c');
    for (const bad of ['has space', 'x'.repeat(65), 'quote"d']) expect(problemsOf({ NODE_ID: bad }).join('\n')).toMatch(/^NODE_ID: /m);
  });
});

describe('loadConfig', () => {
  it('starts in development with no environment at all, open, with a generated JWT secret', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      env: 'development',
      port: 3000,
      host: '127.0.0.1',
      openDelivery: true,
      allowAnonymous: true,
      requireSignedRequests: false,
      chatSessionsDir: './chat_sessions',
      chatIndexMaxMessages: 1_000_000,
      maxBodyBytes: 102400,
      rateLimits: { httpPerMinute: 100, wsMessagesPerMinute: 1000, wsConnectionsPerMinute: 100 },
    });
    expect(config.jwt.secretGenerated).toBe(true);
    expect(config.jwt.secret.length).toBeGreaterThanOrEqual(32);
    expect(config.allowedOrigins).toEqual(['http://localhost:3000', 'http://127.0.0.1:3000']);
    expect(Object.isFrozen(config.rateLimits)).toBe(true);
  });

  it('refuses production without API_KEYS and JWT_SECRET, in one message naming both', () => {
    const problems = problemsOf({ NODE_ENV: 'production' });
    expect(problems.some((p) => p.startsWith('API_KEYS'))).toBe(true);
    expect(problems.some((p) => p.startsWith('JWT_SECRET'))).toBe(true);
  });

  it('refuses a short JWT_SECRET, short keys and anonymous sockets in production', () => {
    const problems = problemsOf({ NODE_ENV: 'production', API_KEYS: 'short', JWT_SECRET: 'x'.repeat(31), ALLOW_ANONYMOUS: 'true' });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^API_KEYS: key #1/),
        expect.stringMatching(/^JWT_SECRET: is shorter than 32 bytes/),
        expect.stringMatching(/^ALLOW_ANONYMOUS/),
      ]),
    );
  });

  it('accepts a complete production configuration and binds every interface', () => {
    const config = loadConfig({ NODE_ENV: 'production', ...STRONG });
    expect(config).toMatchObject({ isProduction: true, openDelivery: false, allowAnonymous: false, host: '0.0.0.0', allowedOrigins: [] });
  });

  it('names every bad variable', () => {
    const problems = problemsOf({ PORT: 'eighty', RATE_LIMIT_HTTP_PER_MINUTE: '-1', LOG_LEVEL: 'loud', REQUIRE_SIGNED_REQUESTS: 'maybe' });
    expect(problems.map((p) => p.split(':')[0])).toEqual(
      expect.arrayContaining(['PORT', 'RATE_LIMIT_HTTP_PER_MINUTE', 'LOG_LEVEL', 'REQUIRE_SIGNED_REQUESTS']),
    );
  });

  it('refuses wildcard and malformed origins', () => {
    expect(problemsOf({ ALLOWED_ORIGINS: '*' })[0]).toMatch(/^ALLOWED_ORIGINS: "\*" is not allowed/);
    expect(problemsOf({ ALLOWED_ORIGINS: 'https://a.example.com/path' })[0]).toMatch(/not an origin/);
  });

  it('parses lists, booleans and numbers', () => {
    const config = loadConfig({
      API_KEYS: ' a , b ,',
      ALLOWED_ORIGINS: 'https://a.example.com,http://localhost:5173',
      REQUIRE_SIGNED_REQUESTS: 'true',
      MAX_BODY_BYTES: '2048',
    });
    expect(config.apiKeys).toEqual(['a', 'b']);
    expect(config.openDelivery).toBe(false);
    expect(config.allowedOrigins).toEqual(['https://a.example.com', 'http://localhost:5173']);
    expect(config.requireSignedRequests).toBe(true);
    expect(config.maxBodyBytes).toBe(2048);
  });
});

describe('production secrets', () => {
  const production = (env: Record<string, string>) => problemsOf({ NODE_ENV: 'production', ...STRONG, ...env });

  it('refuses .env.example copied as it is, naming each example secret and how to make a real one', () => {
    const example = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
    // The webhook lines ship commented out; someone enabling the webhook uncomments both.
    const env = dotenv.parse(example.replace(/^# (EVENT_WEBHOOK_(?:URL|SECRET)=)/gm, '$1'));
    expect(env.EVENT_WEBHOOK_SECRET).toBeDefined();
    let error: unknown;
    try {
      loadConfig({ ...env, NODE_ENV: 'production' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toMatch(/JWT_SECRET: is the example value from \.env\.example.*openssl rand -base64 48/);
    expect(message).toMatch(/API_KEYS: key #1 is the example value from \.env\.example.*openssl rand -hex 24/);
    expect(message).toMatch(/EVENT_WEBHOOK_SECRET: is the example value from \.env\.example.*openssl rand -hex 32/);
    // Named, never printed: a start-up error ends up in logs.
    for (const secret of [env.JWT_SECRET!, env.API_KEYS!, env.EVENT_WEBHOOK_SECRET!]) expect(message).not.toContain(secret);
  });

  it('the same file still starts in development', () => {
    const env = dotenv.parse(readFileSync(new URL('../../.env.example', import.meta.url), 'utf8'));
    expect(() => loadConfig(env)).not.toThrow();
  });

  it.each([
    ['a placeholder', 'JWT_SECRET', 'please-change-me-before-going-live-0123456789', /^JWT_SECRET: looks like a placeholder \(it contains "change-me"\)/],
    ['an "example"', 'JWT_SECRET', 'Example-Signing-Key-For-The-Docs-9f8e7d6c5b4a', /^JWT_SECRET: looks like a placeholder \(it contains "Example"\)/],
    ['one repeated character', 'JWT_SECRET', 's'.repeat(64), /^JWT_SECRET: is too predictable \(about 0 bits/],
    ['few distinct characters', 'JWT_SECRET', 'abcabcabcabcabcabcabcabcabcabcabcabc', /^JWT_SECRET: is too predictable/],
    ['mostly "secret" and "password"', 'JWT_SECRET', 'my-super-secret-password-for-jwt!', /^JWT_SECRET: is too predictable/],
    ['only "password"', 'JWT_SECRET', 'passwordpasswordpasswordpassword', /^JWT_SECRET: is too predictable \(about 0 bits/],
    ['one repeated character', 'API_KEYS', 'k'.repeat(20), /^API_KEYS: key #1 is too predictable/],
    ['a placeholder', 'API_KEYS', 'replace-me-with-a-real-key', /^API_KEYS: key #1 looks like a placeholder/],
    ['"password" and digits', 'API_KEYS', 'password12345678', /^API_KEYS: key #1 is too predictable/],
  ])('refuses %s as %s, saying how to generate a good value', (_what, variable, value, expected) => {
    const problems = production({ [variable]: value });
    expect(problems).toEqual([expect.stringMatching(expected)]);
    expect(problems[0]).toMatch(/openssl rand/);
  });

  it('names the weak key among several', () => {
    expect(production({ API_KEYS: `${STRONG.API_KEYS},${'ab'.repeat(10)}` })).toEqual([expect.stringMatching(/^API_KEYS: key #2 is too predictable/)]);
  });

  it('refuses a weak EVENT_WEBHOOK_SECRET', () => {
    expect(production({ EVENT_WEBHOOK_URL: 'https://backend.internal/hook', EVENT_WEBHOOK_SECRET: 'x'.repeat(32) })).toEqual([
      expect.stringMatching(/^EVENT_WEBHOOK_SECRET: is too predictable.*openssl rand -hex 32/),
    ]);
  });

  it('accepts what the suggested commands generate, every time', () => {
    for (let i = 0; i < 100; i += 1) {
      const env = {
        JWT_SECRET: randomBytes(48).toString('base64'),
        API_KEYS: randomBytes(24).toString('hex'),
        EVENT_WEBHOOK_URL: 'https://backend.internal/hook',
        EVENT_WEBHOOK_SECRET: randomBytes(32).toString('hex'),
      };
      expect(production(env)).toEqual([]);
    }
  });

  it('applies in production only: development and test keep their conveniences', () => {
    expect(() => loadConfig({ JWT_SECRET: 's'.repeat(32), API_KEYS: 'dev-key-change-me-0123456789' })).not.toThrow();
    expect(() => loadConfig({ NODE_ENV: 'test', JWT_SECRET: 'change-me-to-at-least-32-random-bytes-xxxxxxxx' })).not.toThrow();
  });

  it('estimates bits as length × log2(distinct characters), ignoring "secret" and "password"', () => {
    expect(estimatedBits('aaaa')).toBe(0);
    expect(estimatedBits('abab')).toBe(4);
    expect(estimatedBits('0123456789abcdef')).toBe(64);
    expect(estimatedBits('secretab')).toBe(estimatedBits('ab'));
  });
});

describe('HTTP timeouts', () => {
  it('default to 10 s, 30 s and 5 s, and take the environment', () => {
    expect(loadConfig({}).httpTimeouts).toEqual({ headersMs: 10_000, requestMs: 30_000, keepAliveMs: 5_000 });
    expect(loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '300', HTTP_REQUEST_TIMEOUT_MS: '600', HTTP_KEEP_ALIVE_TIMEOUT_MS: '200' }).httpTimeouts).toEqual({
      headersMs: 300,
      requestMs: 600,
      keepAliveMs: 200,
    });
  });

  it('refuses a headers timeout longer than the request timeout, and zero (which would disable them)', () => {
    expect(problemsOf({ HTTP_HEADERS_TIMEOUT_MS: '20000', HTTP_REQUEST_TIMEOUT_MS: '10000' })).toEqual([
      expect.stringMatching(/^HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS/),
    ]);
    expect(problemsOf({ HTTP_REQUEST_TIMEOUT_MS: '0' }).map((p) => p.split(':')[0])).toEqual(['HTTP_REQUEST_TIMEOUT_MS']);
  });
});

describe('PostgreSQL storage', () => {
  it('is off without DATABASE_URL, and takes the URL and a pool size of 10 by default', () => {
    expect(loadConfig({}).database).toBeUndefined();
    expect(loadConfig({ DATABASE_URL: 'postgres://u:p@db:5432/notify' }).database).toEqual({ url: 'postgres://u:p@db:5432/notify', poolMax: 10 });
    expect(loadConfig({ DATABASE_URL: 'postgresql://db/notify', DATABASE_POOL_MAX: '3' }).database).toEqual({ url: 'postgresql://db/notify', poolMax: 3 });
  });

  it('refuses a DATABASE_URL that is not a postgres URL, and a pool of no connections', () => {
    expect(problemsOf({ DATABASE_URL: 'mysql://db/notify' })).toEqual(['DATABASE_URL: must be a postgres:// or postgresql:// URL']);
    expect(problemsOf({ DATABASE_URL: 'not a url' })).toEqual(['DATABASE_URL: must be a postgres:// or postgresql:// URL']);
    expect(problemsOf({ DATABASE_URL: 'postgres://db/notify', DATABASE_POOL_MAX: '0' }).map((p) => p.split(':')[0])).toEqual(['DATABASE_POOL_MAX']);
  });
});

describe('cluster mode (REDIS_URL)', () => {
  it('is off without REDIS_URL; with it and DATABASE_URL it takes the URL and the key prefix rns by default', () => {
    expect(loadConfig({}).cluster).toBeUndefined();
    expect(loadConfig({ REDIS_URL: 'redis://cache:6379', DATABASE_URL: 'postgres://db/notify' }).cluster).toEqual({
      redisUrl: 'redis://cache:6379',
      keyPrefix: 'rns',
      heartbeatMs: 3000,
    });
    expect(loadConfig({ REDIS_URL: 'rediss://cache', DATABASE_URL: 'postgres://db/notify', REDIS_KEY_PREFIX: 'prod-eu' }).cluster).toEqual({
      redisUrl: 'rediss://cache',
      keyPrefix: 'prod-eu',
      heartbeatMs: 3000,
    });
  });

  it('takes CLUSTER_HEARTBEAT_MS from 100 ms up', () => {
    expect(loadConfig({ REDIS_URL: 'redis://cache', DATABASE_URL: 'postgres://db/notify', CLUSTER_HEARTBEAT_MS: '200' }).cluster?.heartbeatMs).toBe(200);
    expect(problemsOf({ REDIS_URL: 'redis://cache', DATABASE_URL: 'postgres://db/notify', CLUSTER_HEARTBEAT_MS: '99' }).map((p) => p.split(':')[0])).toEqual([
      'CLUSTER_HEARTBEAT_MS',
    ]);
  });

  it('refuses REDIS_URL with the file stores, saying why and what to set', () => {
    expect(problemsOf({ REDIS_URL: 'redis://cache:6379' })).toEqual([expect.stringMatching(/^REDIS_URL: cluster mode needs shared storage.*Set DATABASE_URL/)]);
  });

  it('refuses a REDIS_URL that is not a redis URL, and a key prefix with spaces', () => {
    expect(problemsOf({ REDIS_URL: 'http://cache', DATABASE_URL: 'postgres://db/notify' })).toEqual(['REDIS_URL: must be a redis:// or rediss:// URL']);
    expect(problemsOf({ REDIS_URL: 'redis://cache', DATABASE_URL: 'postgres://db/notify', REDIS_KEY_PREFIX: 'a b' }).map((p) => p.split(':')[0])).toEqual(['REDIS_KEY_PREFIX']);
  });
});
