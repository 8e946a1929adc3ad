import express, { Router } from 'express';
import swaggerUi from 'swagger-ui-dist';

const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>API reference</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/docs-init.js"></script>
</body>
</html>`;

// External, not inline: helmet's Content-Security-Policy forbids inline scripts.
const DOCS_INIT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true });`;

/** GET /openapi.json and the Swagger UI at /docs, served from the installed package (no CDN). */
export function createDocsRoutes(openApiDocument: object): Router {
  const router = Router({ strict: true, caseSensitive: true });
  const documentJson = JSON.stringify(openApiDocument);
  router.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(documentJson);
  });
  router.get('/docs', (_req, res) => {
    res.type('html').send(DOCS_PAGE);
  });
  router.get('/docs/docs-init.js', (_req, res) => {
    res.type('application/javascript').send(DOCS_INIT);
  });
  router.use('/docs', express.static(swaggerUi.getAbsoluteFSPath(), { index: false }));
  return router;
}
