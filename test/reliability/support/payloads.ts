import fc from 'fast-check';
import { z } from 'zod';
import { PROTOTYPE_NAMES, adversarialValue, deepJson, numberish, stringOfLength, trickyString, unicodeString } from './adversarial.js';

/** Things that exist on the server under test, so that generated requests reach real state. */
export interface FuzzTargets {
  /** Chat sessions that exist (and that the fuzzing user is in). */
  sessionIds: readonly string[];
  /** User ids with meaning in this run (the fuzzing user, its peers, a stranger). */
  userIds: readonly string[];
  /** Real tokens: the fuzzing user's, another user's, an expired one. */
  tokens: readonly string[];
  /** Room names worth trying beyond the generic ones (other sockets' ids, say). */
  rooms: readonly string[];
}

/**
 * One generator per field name that the server's payloads and bodies use: mostly values
 * of the right shape (including ids like `__proto__`), sometimes anything at all.
 */
export function fieldArbitraries(targets: FuzzTargets): Record<string, fc.Arbitrary<unknown>> {
  const userId = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...targets.userIds) },
    { weight: 1, arbitrary: fc.constantFrom(...PROTOTYPE_NAMES, 'a'.repeat(128), 'a'.repeat(129), 'a/b', 'with space') },
  );
  const room = fc.constantFrom(
    'news',
    'lobby',
    'private:vip',
    'kafka-events',
    'user:fuzz-peer',
    'session:x',
    'tenant:t:user:u',
    'a'.repeat(128),
    'a'.repeat(129),
    ...PROTOTYPE_NAMES,
    ...targets.rooms,
  );
  const text = fc.oneof(
    { weight: 4, arbitrary: unicodeString },
    { weight: 1, arbitrary: stringOfLength([10 * 1024 - 1, 10 * 1024, 10 * 1024 + 1, 64 * 1024, 64 * 1024 + 1]) },
  );
  const actionName = fc.constantFrom('echo', 'whoami', 'rooms', 'time', 'no-such-action', ...PROTOTYPE_NAMES);
  // What the server forwards to other sockets or echoes back: where deep nesting hurts.
  const forwarded = fc.oneof({ weight: 4, arbitrary: adversarialValue }, { weight: 1, arbitrary: deepJson });
  const valid: Record<string, fc.Arbitrary<unknown>> = {
    userId,
    senderUserId: userId,
    receiverUserId: userId,
    userIds: fc.array(userId, { maxLength: 3 }),
    machineId: fc.constantFrom('m', 'machine-1', '__proto__'),
    tenantId: fc.constantFrom('acme', 'other', '__proto__'),
    sessionId: fc.oneof(fc.constantFrom(...targets.sessionIds), fc.uuid()),
    message: text,
    content: text,
    clientMessageId: fc.oneof(fc.constantFrom('retry-1', '__proto__'), fc.stringMatching(/^[A-Za-z0-9_.:-]{1,16}$/)),
    room,
    token: fc.constantFrom(...targets.tokens),
    seq: fc.oneof(fc.integer({ min: -2, max: 50 }), numberish),
    timestamp: fc.oneof(numberish, trickyString),
    type: actionName,
    action: actionName,
    event: fc.constantFrom('notification', 'custom:event', 'error', 'connect', 'a'.repeat(65)),
    params: forwarded,
    data: forwarded,
    metadata: fc.oneof(fc.record({ to: userId, room, extra: forwarded }, { requiredKeys: [] }), adversarialValue),
    rooms: fc.array(fc.oneof(room, fc.constant('*')), { maxLength: 3 }),
    expiresInSeconds: fc.oneof(fc.constantFrom(9, 10, 3600, 7 * 24 * 3600 + 1), numberish),
    title: text,
    id: fc.oneof(trickyString, numberish),
    jobId: fc.oneof(fc.constantFrom(1, 2, 3, '1', 'job-1', ...PROTOTYPE_NAMES), fc.integer({ min: -1, max: 5 }), numberish, trickyString),
    assigneeId: userId,
    creatorId: userId,
    note: text,
    projectId: fc.oneof(fc.constantFrom(1, 'project-1'), numberish),
    jobTypeId: fc.oneof(fc.constantFrom(2, 'mix'), numberish),
    state: fc.constantFrom('created', 'assigned', 'started', 'completed', 'cancelled', 'done', ''),
    priority: fc.constantFrom('LOW', 'NORMAL', 'HIGH', 'URGENT', 'high', ''),
    from: text,
    subject: text,
    location: text,
    time: fc.oneof(trickyString, fc.constantFrom('2025-12-08T15:00:00Z', '10:00 AM')),
  };
  return Object.fromEntries(
    Object.entries(valid).map(([name, arbitrary]) => [name, fc.oneof({ weight: 6, arbitrary }, { weight: 1, arbitrary: adversarialValue })]),
  );
}

/** The field names of an object schema (through `.optional()`), or none for other schemas. */
export function fieldsOf(schema: z.ZodType): string[] {
  let inner: z.ZodType = schema;
  while (inner instanceof z.ZodOptional) inner = inner.unwrap() as z.ZodType;
  return inner instanceof z.ZodObject ? Object.keys(inner.shape) : [];
}

/**
 * Objects with every one of `keys` (each mostly of the right shape), sometimes plus other
 * known fields: close enough to valid that many pass the schema and reach the handler.
 */
export function nearValidObject(targets: FuzzTargets, keys: readonly string[] = []): fc.Arbitrary<Record<string, unknown>> {
  const fields = fieldArbitraries(targets);
  const generic = (name: string) => fields[name] ?? adversarialValue;
  const required = fc.record(Object.fromEntries(keys.map((key) => [key, generic(key)])));
  const extra = fc.record(fields, { requiredKeys: [] });
  return fc
    .tuple(required, fc.oneof({ weight: 3, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: extra }))
    .map(([own, more]) => ({ ...more, ...own }));
}
