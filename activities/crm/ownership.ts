import { decideDealStage, decideSharedField, dealStageReadNeeded } from '../../domain/identity.js';
import type { ContactInput, DealInput, DealsInput, DealStage, UpsertResult } from './types.js';

/**
 * Field ownership in the adapters, one decision per kind for every provider (domain/identity.ts decides;
 * the provider only reads what its CRM shows).
 */

/**
 * Whether a known contact's email is written (ContactInput.previousEmail, emailOwner): read from the CRM
 * only when Stripe's email changed since our last write. A disagreement comes back as the conflict to log.
 */
export async function contactEmailWrite(input: ContactInput, readEmail: (recordId: string) => Promise<string | null>): Promise<{ write: boolean; conflict?: NonNullable<UpsertResult['emailConflict']> }> {
  if (!input.recordId || input.previousEmail === undefined || input.email === input.previousEmail) return { write: true };
  const crmEmail = await readEmail(input.recordId);
  const decision = decideSharedField(input.email, crmEmail, input.previousEmail ?? null, input.emailOwner);
  return { write: decision.write, ...(decision.conflict && crmEmail !== null ? { conflict: { crmValue: crmEmail, ...decision.conflict } } : {}) };
}

/** A deal's current stage in the CRM, by subscription id; a deal that no longer exists is absent. */
export type CurrentStages = (subscriptionIds: readonly string[]) => Promise<Map<string, { id: string; stage: string | null }>>;

/**
 * Which deals carry their stage in this write (domain/identity.ts decideDealStage), for any provider:
 * `stageName` maps a stage to the CRM's value, `currentStages` is the provider's one read, made only
 * for deals whose Stripe stage moved since our last write. Disagreements go to `onStageConflict`.
 */
export async function dealStageWrites(
  deals: readonly DealInput[],
  stageName: Readonly<Record<DealStage, string>>,
  input: Pick<DealsInput, 'stageOwner' | 'onStageConflict'>,
  currentStages: CurrentStages,
): Promise<boolean[]> {
  const last = (d: DealInput) => d.lastStage && stageName[d.lastStage];
  const moved = new Set(deals.filter((d) => dealStageReadNeeded(stageName[d.stage], last(d), input.stageOwner)));
  const current = moved.size > 0 ? await currentStages([...moved].map((d) => d.subscriptionId)) : new Map<string, { id: string; stage: string | null }>();
  return deals.map((d) => {
    const found = current.get(d.subscriptionId);
    const read = moved.has(d) ? { exists: found !== undefined, stage: found?.stage ?? null } : undefined;
    const decision = decideDealStage(stageName[d.stage], last(d), read, input.stageOwner);
    if (decision.conflict && found) {
      input.onStageConflict?.({ subscriptionId: d.subscriptionId, recordId: found.id, stripeValue: stageName[d.stage], crmValue: found.stage, ...decision.conflict });
    }
    return decision.write;
  });
}

/** Without a read (the backfill): the stage is written unless the deal is known to exist with Stripe's stage unchanged. */
export function dealStageWrittenBlind(deal: DealInput, stageName: Readonly<Record<DealStage, string>>): boolean {
  return decideDealStage(stageName[deal.stage], deal.lastStage && stageName[deal.lastStage], undefined).write;
}
