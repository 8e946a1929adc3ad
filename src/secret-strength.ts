/**
 * Production refuses secrets an attacker would try first, by two rules short enough to
 * state in the start-up error:
 *
 * 1. A placeholder: a value from `.env.example`, or text containing "change-me",
 *    "example", "placeholder" or "replace-me". Someone copied the example file.
 * 2. Too little randomness, estimated as length × log2(distinct characters) after
 *    removing the words "secret" and "password" (the first guesses of any dictionary
 *    attack). A single repeated character scores 0 bits; 32 random hex characters score
 *    about 120; `openssl rand -base64 48` about 370.
 *
 * The estimate over-rates text a person made up (it knows no words but those two), so it
 * only catches the obviously weak; the refusal says how to generate a good value.
 */

/** The secrets `.env.example` ships with (commented or not): never valid in production. */
export const EXAMPLE_SECRETS: ReadonlySet<string> = new Set([
  'change-me-to-at-least-32-random-bytes-xxxxxxxx',
  'dev-key-change-me-0123456789',
  'change-me-0123456789',
]);

const PLACEHOLDER = /change[-_ ]?me|example|placeholder|replace[-_ ]?me/i;
const FIRST_GUESSES = /secret|passw(?:or)?d/gi;

export function estimatedBits(value: string): number {
  const rest = value.replace(FIRST_GUESSES, '');
  const distinct = new Set(rest).size;
  return distinct <= 1 ? 0 : rest.length * Math.log2(distinct);
}

/** Why `value` is not fit to be a production secret, or undefined when it is. */
export function weakSecretReason(value: string, minBits: number): string | undefined {
  if (EXAMPLE_SECRETS.has(value)) return 'is the example value from .env.example';
  const placeholder = PLACEHOLDER.exec(value);
  if (placeholder) return `looks like a placeholder (it contains "${placeholder[0]}")`;
  const bits = Math.floor(estimatedBits(value));
  if (bits < minBits) return `is too predictable (about ${bits} bits estimated, at least ${minBits} needed)`;
  return undefined;
}
