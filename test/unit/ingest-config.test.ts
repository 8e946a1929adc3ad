import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe('the ingest settings', () => {
  it('leave the ingest off without INGEST_REDIS_URL, whatever else is set', () => {
    expect(loadConfig({}).ingest).toBeUndefined();
    expect(loadConfig({ INGEST_STREAMS: 'report.ready', INGEST_GROUP: 'other' }).ingest).toBeUndefined();
  });

  it('read the three seed 004 topics from streams of their own names by default', () => {
    expect(loadConfig({ INGEST_REDIS_URL: 'redis://127.0.0.1:6379' }).ingest).toEqual({
      redisUrl: 'redis://127.0.0.1:6379',
      streams: [
        { topic: 'notification.send', stream: 'notification.send' },
        { topic: 'document.processed', stream: 'document.processed' },
        { topic: 'report.ready', stream: 'report.ready' },
      ],
      group: 'realtime-notify',
      batchSize: 100,
      claimIdleMs: 60_000,
    });
  });

  it('take a subset of the topics, a stream prefix, a group and the batch and claim settings', () => {
    const config = loadConfig({
      INGEST_REDIS_URL: 'rediss://user:pass@redis.internal:6380/2',
      INGEST_STREAMS: ' report.ready , notification.send,report.ready',
      INGEST_STREAM_PREFIX: 'prod:',
      INGEST_GROUP: 'notify-eu',
      INGEST_BATCH_SIZE: '10',
      INGEST_CLAIM_IDLE_MS: '5000',
    });
    expect(config.ingest).toMatchObject({
      streams: [
        { topic: 'report.ready', stream: 'prod:report.ready' },
        { topic: 'notification.send', stream: 'prod:notification.send' },
      ],
      group: 'notify-eu',
      batchSize: 10,
      claimIdleMs: 5000,
    });
  });

  it('refuse a topic without a mapping, a URL that is not Redis, and bad names and numbers, naming each', () => {
    const problems = problemsOf({
      INGEST_REDIS_URL: 'http://127.0.0.1:6379',
      INGEST_STREAMS: 'notification.send,orders.created',
      INGEST_GROUP: 'has space',
      INGEST_BATCH_SIZE: '0',
    });
    expect(problems).toEqual(
      expect.arrayContaining([expect.stringMatching(/^INGEST_GROUP: /), expect.stringMatching(/^INGEST_BATCH_SIZE: /)]),
    );
    expect(problemsOf({ INGEST_REDIS_URL: 'http://127.0.0.1:6379', INGEST_STREAMS: 'notification.send,orders.created' })).toEqual([
      'INGEST_REDIS_URL: must be a redis:// or rediss:// URL',
      'INGEST_STREAMS: "orders.created" has no mapping; the topics that can be ingested are notification.send, document.processed, report.ready',
    ]);
  });
});
