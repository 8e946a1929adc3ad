import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';

/** A secret long enough for production rules; tests pass it as JWT_SECRET. */
export const TEST_SECRET = 'test-secret-that-is-at-least-32-bytes-long!!';

/** Signs a real HS256 JWT with `exp` `ttlSeconds` from now (negative: already expired). */
export function signToken(
  claims: Record<string, unknown>,
  options: { secret?: string; ttlSeconds?: number; algorithm?: jwt.Algorithm } = {},
): string {
  const exp = Math.floor(Date.now() / 1000) + (options.ttlSeconds ?? 3600);
  return jwt.sign({ exp, ...claims }, options.secret ?? TEST_SECRET, { algorithm: options.algorithm ?? 'HS256' });
}

/** A token with no `exp` claim, which jsonwebtoken itself would accept. */
export function signTokenWithoutExp(claims: Record<string, unknown>, secret = TEST_SECRET): string {
  return jwt.sign(claims, secret, { algorithm: 'HS256', noTimestamp: true });
}

/** An unsigned `alg: none` token. */
export function unsignedToken(claims: Record<string, unknown>): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const exp = Math.floor(Date.now() / 1000) + 3600;
  return `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ exp, ...claims })}.`;
}

export function rsaKeyPair() {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

export function ecKeyPair() {
  return generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}
