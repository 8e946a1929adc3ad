/**
 * Who a token says a caller is. Produced only by a TokenVerifier; everything downstream
 * trusts it.
 */
export interface Identity {
  userId: string;
  tenantId: string | undefined;
  /** Patterns (`*` wildcard) of private rooms the user may join, from the `rooms` claim. */
  rooms: readonly string[];
  /** Expiry, seconds since the epoch. Always present: tokens without `exp` are refused. */
  exp: number;
}

/**
 * Verifies bearer tokens. Rejects with AppError('TOKEN_EXPIRED') for an expired token
 * and AppError('UNAUTHORIZED') for every other problem (bad signature, wrong algorithm,
 * no `exp`, wrong issuer or audience, no user id).
 */
export interface TokenVerifier {
  verify(token: string): Identity;
}
