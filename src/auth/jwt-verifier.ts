import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Identity, TokenVerifier } from '../domain/identity.js';
import { AppError } from '../errors.js';

export interface JwtVerifierOptions {
  /** HS256 secret. */
  secret: string;
  /** PEM public key enabling RS256 or ES256 (whichever matches the key type). */
  publicKey?: string | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
  clockToleranceSeconds: number;
  /** Milliseconds since the epoch that `exp` is checked against; the wall clock by default. */
  now?: (() => number) | undefined;
}

type Algorithm = 'HS256' | 'RS256' | 'ES256';

/**
 * JWT verification with pinned algorithms. The algorithm is chosen by which key the
 * server holds, never by the token alone: an HS256 token is checked only against the
 * secret, an RS256/ES256 token only against the public key, so a token cannot make the
 * server use its public key as an HMAC secret, and `alg: none` never verifies.
 *
 * Keys are KeyObjects built once: jsonwebtoken rebuilds a key from a string on every
 * call, which costs about 25 times more per verification.
 */
export function createJwtVerifier(options: JwtVerifierOptions): TokenVerifier {
  const now = options.now ?? Date.now;
  const keys = new Map<Algorithm, KeyObject>([['HS256', createSecretKey(Buffer.from(options.secret))]]);
  if (options.publicKey) {
    const publicKey = createPublicKey(options.publicKey);
    keys.set(publicKey.asymmetricKeyType === 'ec' ? 'ES256' : 'RS256', publicKey);
  }

  return {
    verify(token) {
      const header = decodeHeader(token);
      if (header === undefined) throw new AppError('UNAUTHORIZED', 'Token is not a JWT');
      const algorithm = header?.alg as Algorithm | undefined;
      const key = algorithm !== undefined ? keys.get(algorithm) : undefined;
      if (algorithm === undefined || key === undefined) {
        throw new AppError('UNAUTHORIZED', `Token algorithm ${String(header.alg ?? 'missing')} is not accepted`);
      }
      let claims: jwt.JwtPayload;
      try {
        const verified = jwt.verify(token, key, {
          algorithms: [algorithm],
          clockTolerance: options.clockToleranceSeconds,
          clockTimestamp: Math.floor(now() / 1000),
          ...(options.issuer !== undefined ? { issuer: options.issuer } : {}),
          ...(options.audience !== undefined ? { audience: options.audience } : {}),
        });
        if (typeof verified === 'string') throw new AppError('UNAUTHORIZED', 'Token payload must be a JSON object');
        claims = verified;
      } catch (err) {
        if (err instanceof jwt.TokenExpiredError) throw new AppError('TOKEN_EXPIRED', 'Token expired');
        if (err instanceof AppError) throw err;
        throw new AppError('UNAUTHORIZED', `Invalid token: ${(err as Error).message}`);
      }
      return identityFrom(claims);
    },
  };
}

/** Reads only the header, to pick the key; jsonwebtoken then verifies the whole token. */
function decodeHeader(token: string): { alg?: unknown } | undefined {
  const end = token.indexOf('.');
  if (end <= 0) return undefined;
  try {
    const header: unknown = JSON.parse(Buffer.from(token.slice(0, end), 'base64url').toString('utf8'));
    return header !== null && typeof header === 'object' ? (header as { alg?: unknown }) : undefined;
  } catch {
    return undefined; // not JSON: the caller refuses it as "not a JWT"
  }
}

const USER_ID = /^[^\s/\\]{1,128}$/;
const TENANT_ID = /^[A-Za-z0-9_.-]{1,64}$/;

function identityFrom(claims: jwt.JwtPayload): Identity {
  // jsonwebtoken accepts tokens without exp; this server does not.
  if (typeof claims.exp !== 'number') throw new AppError('UNAUTHORIZED', 'Token has no exp claim');
  const rawUserId: unknown = claims.userId ?? claims.sub;
  const userId = typeof rawUserId === 'number' ? String(rawUserId) : rawUserId;
  if (typeof userId !== 'string' || !USER_ID.test(userId)) {
    throw new AppError('UNAUTHORIZED', 'Token has no usable userId or sub claim');
  }
  const tenantClaim: unknown = claims.tenantId;
  const tenantId = typeof tenantClaim === 'number' ? String(tenantClaim) : tenantClaim;
  if (tenantId !== undefined && (typeof tenantId !== 'string' || !TENANT_ID.test(tenantId))) {
    throw new AppError('UNAUTHORIZED', 'Token tenantId claim is malformed');
  }
  const roomsClaim: unknown = claims.rooms;
  const rooms = Array.isArray(roomsClaim) ? roomsClaim.filter((room): room is string => typeof room === 'string') : [];
  return { userId, tenantId, rooms, exp: claims.exp };
}
