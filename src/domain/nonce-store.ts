/**
 * Remembers what makes a signed request unique for the signature window, so it cannot be
 * replayed: the nonce of a v2 request, the signature itself for v1 (whose signed string
 * can be cut more than one way, see http/middleware/signature.ts). Implementations are bounded: when full of unexpired nonces they refuse
 * new ones rather than forget old ones (forgetting would reopen replays).
 */
export interface NonceStore {
  /**
   * Records `nonce` (a key as above) for `ttlMs`. Resolves to 'fresh' the first time, 'seen' when the
   * key is still remembered, 'full' when the store cannot take more.
   */
  remember(nonce: string, ttlMs: number): Promise<'fresh' | 'seen' | 'full'>;
}
