import type Database from 'better-sqlite3';

/**
 * The job database's tables, one version per entry; `PRAGMA user_version` says how many
 * have been applied. A new version is appended, never edited, so every existing database
 * can be brought forward.
 *
 * - `jobs`: one row per job. `record` is the job as clients receive it (JSON), which keeps
 *   the id's type (a number or a string) and the fields the store does not look at; the
 *   columns beside it are the ones lists select by. `key` is the id as text, so the number
 *   1 and the string "1" are one job. `seq` (AUTOINCREMENT: never given twice) is the
 *   creation order that pages are cut by, newest first.
 * - `job_ids`: the next integer id the store gives a job created without one. Ids taken
 *   by jobs created with their own id are skipped when reached.
 *
 * Indexes, one per side of "the user's jobs": the jobs a user is assigned to and the jobs
 * a user created, each in creation order within a tenant, so a page reads `limit` rows
 * from each.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    tenant_id TEXT NOT NULL,
    creator_id TEXT,
    assignee_id TEXT,
    state TEXT NOT NULL,
    record TEXT NOT NULL
  );
  CREATE INDEX jobs_by_assignee ON jobs (tenant_id, assignee_id, seq);
  CREATE INDEX jobs_by_creator ON jobs (tenant_id, creator_id, seq);
  CREATE TABLE job_ids (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    next INTEGER NOT NULL
  );
  INSERT INTO job_ids (id, next) VALUES (1, 1);
  `,
];

/** Brings the database to the newest schema in one transaction; refuses one made by a newer server. */
export function migrateJobSchema(db: Database.Database, file: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > MIGRATIONS.length) {
    throw new Error(
      `The job database ${file} has schema version ${version}, newer than this server knows (${MIGRATIONS.length}); run a newer server or restore a backup`,
    );
  }
  if (version === MIGRATIONS.length) return;
  db.transaction(() => {
    for (const sql of MIGRATIONS.slice(version)) db.exec(sql);
    db.pragma(`user_version = ${MIGRATIONS.length}`);
  }).immediate();
}
