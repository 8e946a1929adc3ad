import type { Express, Response } from 'express';

/**
 * `res.json` for the common answer, without Express's general path. Express's `json`
 * reads three settings, sets `Content-Type` through `res.set` (a MIME lookup), and hands
 * the text to `send`, which parses that type again to add the charset, looks for an ETag
 * function, checks the request's freshness and the status for 204/205/304 and HEAD. With
 * this app's settings (no ETag, no JSON replacer, spaces or escaping) none of that changes
 * an ordinary answer, so one is written directly: the same bytes and headers
 * (`Content-Type: application/json; charset=utf-8`, `Content-Length`).
 *
 * Every other case goes to Express's own `json` unchanged: a HEAD request, a status
 * without a body (204, 205, 304), a conditional request (`If-None-Match: *` makes Express
 * answer 304), a `Content-Type` or `Transfer-Encoding` already set, a value with no JSON
 * text (`undefined`). test/integration/json-answer.test.ts compares the two.
 */
export function answerJsonDirectly(app: Express): void {
  for (const setting of ['etag fn', 'json replacer', 'json spaces', 'json escape']) {
    if (app.get(setting) !== undefined && app.get(setting) !== false) throw new Error(`answerJsonDirectly: the app sets "${setting}"; Express's res.json must answer`);
  }
  const expressJson = app.response.json;
  app.response.json = function json(this: Response, body: unknown): Response {
    const { req, statusCode } = this;
    const text: string | undefined = JSON.stringify(body);
    if (
      text === undefined ||
      req.method === 'HEAD' ||
      statusCode === 204 ||
      statusCode === 205 ||
      statusCode === 304 ||
      req.headers['if-none-match'] !== undefined ||
      req.headers['if-modified-since'] !== undefined ||
      this.hasHeader('content-type') ||
      this.hasHeader('transfer-encoding')
    ) {
      return expressJson.call(this, body);
    }
    this.setHeader('Content-Type', 'application/json; charset=utf-8');
    this.setHeader('Content-Length', Buffer.byteLength(text));
    this.end(text, 'utf8');
    return this;
  };
}
