/**
 * Remembers request nonces for the signature window so a signed request cannot be
 * replayed. Implementations are bounded: when full of unexpired nonces they refuse
 * new ones rather than forget old ones (forgetting would reopen replays).
 */
export interface NonceStore {
  /**
   * Records `nonce` for `ttlMs`. Resolves to 'fresh' the first time, 'seen' when the
   * nonce is still remembered, 'full' when the store cannot take more.
   */
  remember(nonce: string, ttlMs: number): Promise<'fresh' | 'seen' | 'full'>;
}
