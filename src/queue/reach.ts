import { Redis } from 'ioredis';
import { TunespecError } from '../errors.ts';
import type { RedisTarget } from './connection.ts';

export class QueueError extends TunespecError {
  constructor(message: string) {
    super('QUEUE', message);
  }
}

/**
 * One ping with no retries: BullMQ's own connections retry forever, which is right for a worker
 * riding out a Redis restart but wrong for a command that should say at once that nothing answers.
 */
export async function assertReachable(target: RedisTarget): Promise<void> {
  const redis = new Redis({ ...(target.connection as object), lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  // The reason (ECONNREFUSED, WRONGPASS) arrives as an 'error' event; connect() only says it closed.
  let cause: Error | undefined;
  redis.on('error', (err: Error) => (cause ??= err));
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    const password = (target.connection as { password?: string }).password;
    const reason = (cause ?? (err as Error)).message;
    throw new QueueError(`queue: no Redis answers at ${target.shown}: ${password ? reason.split(password).join('***') : reason}`);
  } finally {
    redis.disconnect();
  }
}
