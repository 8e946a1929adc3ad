import { describe, it } from 'vitest';
import type { PostgresDatabase } from '../../src/storage/postgres/postgres-database.js';
import { databaseInFreshSchema, postgresSkipReason } from './postgres.js';

interface Closable {
  close(): Promise<void>;
}

/** One implementation of a store, run through a contract suite with the others. */
export interface StoreDriver<Store, Settings = void> {
  name: string;
  /** A store not yet opened, and what removes its traces. */
  create(settings: Settings): Promise<{ store: Store; cleanup(): Promise<void> }>;
}

/** The driver of an in-memory store: closing it is all its cleanup. */
export function memoryDriver<Store extends Closable, Settings = void>(create: (settings: Settings) => Store): StoreDriver<Store, Settings> {
  return {
    name: 'memory store',
    async create(settings) {
      const store = create(settings);
      return { store, cleanup: () => store.close() };
    },
  };
}

/**
 * Adds the PostgreSQL store to `drivers`: each store gets a fresh schema (`schemaLabel`),
 * dropped at cleanup. Without a reachable PostgreSQL, registers a skipped
 * "`contract`: postgres store" suite that says why instead.
 */
export async function addPostgresDriver<Store extends Closable, Settings = void>(
  drivers: StoreDriver<Store, Settings>[],
  contract: string,
  schemaLabel: string,
  create: (database: PostgresDatabase, settings: Settings) => Store,
): Promise<void> {
  const skipped = await postgresSkipReason();
  if (skipped !== undefined) {
    describe(`${contract}: postgres store`, () => {
      it.skip(`skipped: ${skipped}`, () => undefined);
    });
    return;
  }
  drivers.push({
    name: 'postgres store',
    async create(settings) {
      const { database, cleanup } = await databaseInFreshSchema(schemaLabel);
      const store = create(database, settings);
      return {
        store,
        async cleanup() {
          await store.close();
          await cleanup();
        },
      };
    },
  });
}
