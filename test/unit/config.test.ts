import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

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
        expect.stringMatching(/^JWT_SECRET: must be at least 32 bytes/),
        expect.stringMatching(/^ALLOW_ANONYMOUS/),
      ]),
    );
  });

  it('accepts a complete production configuration and binds every interface', () => {
    const config = loadConfig({ NODE_ENV: 'production', API_KEYS: 'k'.repeat(20), JWT_SECRET: 's'.repeat(32) });
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
