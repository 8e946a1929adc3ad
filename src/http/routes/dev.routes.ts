import { Router } from 'express';
import type { TokenSigner } from '../../auth/token-signer.js';
import { devTokenBodySchema } from '../../contracts/schemas.js';
import { withBody } from '../middleware/validate.js';

/**
 * POST /api/dev/token: a signed user token for trying the server from the test page.
 * Mounted only outside production, where it answers 404 like any unknown route.
 */
export function createDevRoutes(deps: { signer: TokenSigner }): Router {
  const router = Router();
  router.post(
    '/api/dev/token',
    withBody(devTokenBodySchema, (body, _req, res) => {
      res.json(deps.signer.sign(body, body.expiresInSeconds));
    }),
  );
  return router;
}
