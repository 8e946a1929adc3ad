/** The wire contract: event maps, payload schemas and error codes, for servers and clients alike. */
export * from './error-codes.js';
export * from './events.js';
export * from './schemas.js';
export * from './chat.js';
export * from './test-helpers.js';
export * from './jobs.js';
export * from './ingest.js';
