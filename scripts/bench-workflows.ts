import { condition, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';

/**
 * The real-time benchmark's reference workflow (bundled by the benchmark alone, never by the service).
 * With no activity queue it is the floor's target: it runs its first task and then takes signals without
 * doing anything. With one, it is the pattern floor: every signal becomes a no-op activity on that
 * rate-limited queue, the same Temporal steps a customer's sync round takes, with none of our code.
 */
export const pingSignal = defineSignal<[{ id: string }?]>('ping');

export interface BenchActivities {
  benchWrite(input: { ids: string[] }): Promise<void>;
}

export async function benchFloorWorkflow(activityQueue?: string): Promise<void> {
  const pending: string[] = [];
  setHandler(pingSignal, (ping) => {
    if (ping) pending.push(ping.id);
  });
  const write = activityQueue ? proxyActivities<BenchActivities>({ taskQueue: activityQueue, startToCloseTimeout: '1 minute' }).benchWrite : null;
  for (;;) {
    await condition(() => pending.length > 0);
    const ids = pending.splice(0);
    if (write) await write({ ids });
  }
}
