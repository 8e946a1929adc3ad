import { devTokenBodySchema, devTokenResponseSchema } from '../../contracts/schemas.js';
import { defineRoute } from '../route-definition.js';

/** Development conveniences: absent in production, where they answer 404 like any unknown route. */
export const devRoutes = [
  defineRoute({
    method: 'post',
    path: '/api/dev/token',
    access: 'dev',
    summary: 'Development only: a signed user token for trying the server from the test page',
    body: devTokenBodySchema,
    responses: { 200: { description: 'A token the socket gateway accepts', schema: devTokenResponseSchema } },
    handler: ({ devTokenSigner: signer }) =>
      signer &&
      (({ body }, _req, res) => {
        res.json(signer.sign(body, body.expiresInSeconds));
      }),
  }),
];
