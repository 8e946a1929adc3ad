import type { z } from 'zod';
import { AppError } from './errors.js';

/** Formats zod issues as one line a client can act on: `field: problem; field: problem`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 10)
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}

/** Parses `input` with `schema`, throwing INVALID_REQUEST that names each bad field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new AppError('INVALID_REQUEST', `${what} is invalid: ${describeIssues(result.error)}`);
  return result.data;
}

/**
 * Whether `value` nests objects or arrays deeper than `maxDepth` (a scalar is depth 0,
 * `{}` and `[]` are 1). Iterative, so a hostile payload cannot overflow the stack here;
 * bounding depth at the boundary keeps it from overflowing later, in Socket.IO's encoder
 * (`hasBinary` recurses) or in anything else that walks a forwarded payload.
 */
export function nestingExceeds(value: unknown, maxDepth: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const stack: Array<{ node: object; depth: number }> = [{ node: value, depth: 1 }];
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    if (depth > maxDepth) return true;
    if (ArrayBuffer.isView(node) || node instanceof ArrayBuffer) continue;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (typeof child === 'object' && child !== null) stack.push({ node: child as object, depth: depth + 1 });
    }
  }
  return false;
}
