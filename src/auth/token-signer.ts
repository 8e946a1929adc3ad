import { createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';

export interface IssuedToken {
  token: string;
  /** ISO timestamp of the token's `exp`. */
  expiresAt: string;
}

/**
 * Issues HS256 user tokens with the server's own secret. Used only by the development
 * token endpoint (the test page's "Get a development token"); production apps mint
 * their tokens in their own backend with the same secret or their own key pair.
 */
export function createTokenSigner(options: { secret: string; issuer?: string | undefined; audience?: string | undefined }) {
  const key: KeyObject = createSecretKey(Buffer.from(options.secret));
  return {
    sign(claims: { userId: string; tenantId?: string | undefined; rooms?: readonly string[] | undefined }, ttlSeconds: number): IssuedToken {
      const exp = Math.floor(Date.now() / 1000) + ttlSeconds;
      const payload: Record<string, unknown> = { userId: claims.userId, exp };
      if (claims.tenantId !== undefined) payload.tenantId = claims.tenantId;
      if (claims.rooms !== undefined) payload.rooms = claims.rooms;
      const token = jwt.sign(payload, key, {
        algorithm: 'HS256',
        ...(options.issuer !== undefined ? { issuer: options.issuer } : {}),
        ...(options.audience !== undefined ? { audience: options.audience } : {}),
      });
      return { token, expiresAt: new Date(exp * 1000).toISOString() };
    },
  };
}

export type TokenSigner = ReturnType<typeof createTokenSigner>;
