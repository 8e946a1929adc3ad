import fc from 'fast-check';

/**
 * Generators of hostile input for the fuzz tests: wrong types, strings at the limits,
 * deep nesting, unicode edge cases, `__proto__` keys, numbers that are not numbers, and
 * binary. Payloads are built from these and from "near-valid" fields, so that both the
 * validation boundary and the handlers behind it are reached.
 */

/**
 * A JSON value nested `depth` levels deep. Kept as a marker and written as text, because
 * neither JSON.stringify nor Socket.IO's encoder can write one 10,000 levels deep: a real
 * attacker writes the text by hand, and so does this suite.
 */
export class DeepJson {
  constructor(
    readonly depth: number,
    readonly kind: 'object' | 'array',
  ) {}

  text(): string {
    return this.kind === 'object' ? `${'{"a":'.repeat(this.depth)}0${'}'.repeat(this.depth)}` : `${'['.repeat(this.depth)}0${']'.repeat(this.depth)}`;
  }

  /** The same value as an object graph, built without recursion. */
  value(): unknown {
    let value: unknown = 0;
    for (let i = 0; i < this.depth; i++) value = this.kind === 'object' ? { a: value } : [value];
    return value;
  }

  toString(): string {
    return `DeepJson(${this.kind}, depth ${this.depth})`;
  }
}

/** A long string, kept as a marker so that a failure report shows `LongString('é' x 65537)`, not the string. */
export class LongString {
  constructor(
    readonly unit: string,
    readonly length: number,
  ) {}

  /** Exactly `length` UTF-16 units (slicing may split a surrogate pair: one more odd case). */
  value(): string {
    return this.unit.repeat(Math.ceil(this.length / this.unit.length)).slice(0, this.length);
  }

  toString(): string {
    return `LongString(${JSON.stringify(this.unit)} x ${this.length})`;
  }
}

/** Deepest nesting the real socket.io-client can still encode; deeper values go out as raw packets. */
export const CLIENT_ENCODABLE_DEPTH = 500;

/** Depths around MAX_PAYLOAD_DEPTH's default (32) and far beyond it. */
const DEPTHS = [2, 31, 32, 33, 64, 513, 1000, 10_000] as const;

/** The largest DeepJson inside `value` (the generated structure around it is shallow). */
export function deepestMarker(value: unknown): number {
  if (value instanceof DeepJson) return value.depth;
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return 0;
  if (Array.isArray(value)) return Math.max(0, ...value.map(deepestMarker));
  if (typeof value === 'object' && value !== null) return Math.max(0, ...Object.values(value).map(deepestMarker));
  return 0;
}

/** `value` with every DeepJson replaced by the nested value it stands for. */
export function materialize(value: unknown): unknown {
  if (value instanceof DeepJson || value instanceof LongString) return value.value();
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return value;
  if (Array.isArray(value)) return value.map(materialize);
  if (typeof value === 'object' && value !== null) {
    // defineProperty keeps an own `__proto__` key an own key instead of setting the prototype.
    const copy: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      Object.defineProperty(copy, key, { value: materialize(inner), enumerable: true, writable: true, configurable: true });
    }
    return copy;
  }
  return value;
}

/** JSON text of `value`, DeepJson markers written out as text (binary becomes Node's `{ type, data }`). */
export function toJsonText(value: unknown): string {
  if (value instanceof DeepJson) return value.text();
  if (value instanceof LongString) return JSON.stringify(value.value());
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : toJsonText(item))).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const members = Object.entries(value).filter(([, inner]) => inner !== undefined);
    return `{${members.map(([key, inner]) => `${JSON.stringify(key)}:${toJsonText(inner)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Names that are special on Object.prototype, as keys and as ids. */
export const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'] as const;

const TRICKY_STRINGS = [
  '',
  ' ',
  'NaN',
  'Infinity',
  '-Infinity',
  '-0',
  '0x1A',
  '1e309',
  '1e-400',
  '9007199254740993',
  '-1',
  '00',
  '٣',
  '１２３',
  'null',
  'undefined',
  'true',
  '[object Object]',
  '{}',
  '[]',
  '../../etc/passwd',
  '..',
  '.',
  '%00',
  '%FF%FE',
  '%C0%AE',
  '\u0000',
  '\uD800',
  '\uDFFF',
  '\uFEFF',
  '\u202E',
  '\u200B',
  'a\nb\r\nc',
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  '${jndi:ldap://x}',
  '00000000-0000-0000-0000-000000000000',
  ...PROTOTYPE_NAMES,
];

export const trickyString = fc.constantFrom(...TRICKY_STRINGS);

const oddUnit = fc.oneof(
  fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit)),
  fc.constantFrom('\u0000', '\u202E', '\uFEFF', '\u200B', '\u0301', '\u{1F600}', '\u{10FFFF}'),
);

export const unicodeString = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: oddUnit, maxLength: 8 }),
);

/**
 * Strings (as LongString markers) of exactly the given lengths in UTF-16 units, of one to
 * four bytes per unit, so that byte limits (MAX_MESSAGE_BYTES) and length limits are
 * both met at their edge.
 */
export function stringOfLength(lengths: readonly number[]): fc.Arbitrary<LongString> {
  return fc.tuple(fc.constantFrom('a', 'é', '€', '\u{1F600}', '_'), fc.constantFrom(...lengths)).map(([unit, length]) => new LongString(unit, length));
}

export const numberish = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(-0, -1, 0.5, 2 ** 31, 2 ** 53 + 2, 1e308, Number.NaN, Number.POSITIVE_INFINITY),
);

/** Buffers and typed arrays: Socket.IO sends them as binary attachments. */
export const binary = fc.oneof(
  fc.uint8Array({ maxLength: 32 }).map((bytes) => Buffer.from(bytes)),
  fc.uint8Array({ maxLength: 8 }),
  fc.float64Array({ maxLength: 4 }),
);

export const deepJson = fc.tuple(fc.constantFrom(...DEPTHS), fc.constantFrom('object' as const, 'array' as const)).map(([depth, kind]) => new DeepJson(depth, kind));

/** Objects with own `__proto__` / `constructor` keys, as JSON.parse creates them. */
export const prototypeKeyed = fc
  .constantFrom(
    '{"__proto__":{"polluted":true,"userId":"admin"}}',
    '{"constructor":{"prototype":{"polluted":true}}}',
    '{"__proto__":null}',
    '{"__proto__":[]}',
    '{"toString":1,"hasOwnProperty":"x","valueOf":[]}',
  )
  .map((text) => JSON.parse(text) as Record<string, unknown>);

const objectKey = fc.oneof(fc.constantFrom(...PROTOTYPE_NAMES, 'room', 'userId', 'sessionId', 'to', 'data'), fc.string({ maxLength: 10 }), trickyString);

const scalar = fc.oneof(trickyString, unicodeString, numberish, fc.boolean(), fc.constant(null));

/** Any hostile value: scalars, containers of them, and the special shapes above. */
export const adversarialValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown; array: unknown[]; object: Record<string, unknown> }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 8, arbitrary: scalar },
    { weight: 2, arbitrary: binary },
    { weight: 2, arbitrary: deepJson },
    { weight: 2, arbitrary: prototypeKeyed },
    { weight: 1, arbitrary: stringOfLength([128, 129, 8192, 8193, 64 * 1024 + 1]) },
    { weight: 2, arbitrary: tie('array') },
    { weight: 3, arbitrary: tie('object') },
  ),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.dictionary(objectKey, tie('value'), { maxKeys: 4 }),
})).value;
