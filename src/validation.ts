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
