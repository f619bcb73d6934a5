import type { SubscriptionSnapshot } from './billing-snapshot.js';
import { changedCrmFields, computeCrmFields, nextRenewal, type CrmFieldValues, type MrrSettings } from './crm-fields.js';
import type { CrmFieldName } from './crm-field-names.js';
import { computeSubscriptionMrr } from './mrr.js';
import { toMajorUnits } from './money.js';
import type { CustomerSyncState } from './customer-sync-state.js';
import type { TimelineEntry } from './customer-events.js';
import type { FieldOwnership, IdentityOptions } from './identity.js';
import { toIsoDate } from './time.js';

/**
 * Decides which CRM writes one sync round needs, by comparing what the state says now with what
 * was last written. Pure, so "nothing changed → no request" is a table test, not a hope.
 */

export interface CrmLinks {
  accountId: string | null;
  contactId: string | null;
  /** subscription id → deal / Opportunity id */
  dealIds: Record<string, string>;
}

export interface LastWritten {
  fields: CrmFieldValues | null;
  contactEmail: string | null;
  /** Shared company fields as we last wrote them (ownership: a CRM edit since then wins). */
  name?: string | null;
  domain?: string | null;
  /** subscription id → a fingerprint of the deal as last written */
  deals: Record<string, string>;
  /**
   * subscription id → the Stripe stage of the deal's last write, whether or not its owner let it
   * change the CRM's stage: a person's stage is then reported once, not at every write of the deal.
   * Kept apart from the fingerprints, which a full resync forgets (see forgetWrites).
   */
  stages?: Record<string, PlannedDeal['stage']>;
}

export interface SyncSettings {
  mode: 'b2b' | 'b2c';
  mrr: MrrSettings;
  debounceMs: number;
  identity: IdentityOptions;
  /**
   * What a subscription becomes in the CRM: a deal / Opportunity (absent or `deal`), or a custom object
   * (`custom`, CRM_SUBSCRIPTION_OBJECT), which also carries the subscription's renewal, trial and end dates.
   */
  subscriptionObject?: 'deal' | 'custom';
  /** Who decides the fields both sides may edit (FIELD_OWNERSHIP); absent in runs started before it existed: the defaults. */
  ownership?: FieldOwnership;
}

export interface PlannedDeal {
  subscriptionId: string;
  name: string;
  amount: number;
  currency: string | null;
  stage: 'open' | 'won' | 'lost';
  closeDate: string;
  status: string;
  /**
   * Planned only for a custom subscription object (SyncSettings.subscriptionObject): a deal has no room for
   * them, and leaving them out keeps a deal's fingerprint (and so its writes) exactly what it was.
   * YYYY-MM-DD, null when there is none.
   */
  nextRenewalDate?: string | null;
  trialEndDate?: string | null;
  /** When the subscription ended, or the end a cancellation has scheduled. */
  endDate?: string | null;
  /** Stripe's stage at our last write, for a deal that exists as far as we know (see activities/crm/types.ts DealInput.lastStage). */
  lastStage?: PlannedDeal['stage'];
}

export interface CrmPlan {
  fields: CrmFieldValues;
  /** Logical fields whose value differs from what was last written (all, on a first write). */
  changedFields: CrmFieldName[];
  writeAccount: boolean;
  writeContact: boolean;
  deals: PlannedDeal[];
  timeline: TimelineEntry[];
}

const OPEN = new Set(['trialing', 'incomplete']);
const WON = new Set(['active', 'past_due', 'unpaid', 'paused']);

/** A subscription's deal stage: trials are open, paying subscriptions won, never-paid cancellations lost. */
export function dealStage(sub: SubscriptionSnapshot): PlannedDeal['stage'] {
  if (OPEN.has(sub.status)) return 'open';
  if (WON.has(sub.status)) return 'won';
  // A canceled subscription that once started billing stays a won deal; churn shows in its status field.
  const billed = sub.trialEnd === null || (sub.endedAt ?? sub.canceledAt ?? 0) > sub.trialEnd;
  return sub.status === 'canceled' && billed ? 'won' : 'lost';
}

function planLabel(sub: SubscriptionSnapshot, productNames: Record<string, string>): string {
  const names = sub.items.map((i) => i.price.productName ?? (i.price.productId ? productNames[i.price.productId] : null) ?? i.price.nickname ?? i.price.id);
  return [...new Set(names)].join(' + ');
}

export function planDeals(state: CustomerSyncState, settings: SyncSettings, now: number): PlannedDeal[] {
  const productNames = state.billing.productNames as Record<string, string>;
  return Object.values(state.billing.subscriptions)
    .sort((a, b) => a.created - b.created || a.id.localeCompare(b.id))
    .map((sub) => {
      const mrr = computeSubscriptionMrr(sub, { ...settings.mrr, now, customerDiscount: state.billing.customer.discount });
      // A churned subscription keeps the amount it last billed, so the won deal's value stays meaningful.
      const amount = mrr.counted ? toMajorUnits(mrr.amount, sub.currency) : toMajorUnits(mrr.grossAmount, sub.currency);
      return {
        subscriptionId: sub.id,
        name: `${planLabel(sub, productNames)} (${sub.id})`,
        amount,
        currency: sub.currency.toUpperCase(),
        stage: dealStage(sub),
        closeDate: toIsoDate(sub.startDate),
        status: sub.status,
        ...(settings.subscriptionObject === 'custom' ? subscriptionDates(sub) : {}),
      };
    });
}

function subscriptionDates(sub: SubscriptionSnapshot): Required<Pick<PlannedDeal, 'nextRenewalDate' | 'trialEndDate' | 'endDate'>> {
  const renewal = nextRenewal(sub);
  const end = sub.endedAt ?? sub.cancelAt;
  return {
    nextRenewalDate: renewal === null ? null : toIsoDate(renewal),
    trialEndDate: sub.trialEnd === null ? null : toIsoDate(sub.trialEnd),
    endDate: end === null ? null : toIsoDate(end),
  };
}

/** What the record as last written looked like; a deal's is unchanged since before custom objects existed. */
export function dealFingerprint(deal: PlannedDeal): string {
  const base = [deal.name, deal.amount, deal.currency, deal.stage, deal.closeDate, deal.status];
  return JSON.stringify(deal.nextRenewalDate === undefined ? base : [...base, deal.nextRenewalDate, deal.trialEndDate ?? null, deal.endDate ?? null]);
}

/** Stripe's stage at our last write of a deal: recorded apart, or (workflows older than that record) inside its fingerprint. */
export function lastWrittenStage(written: LastWritten, subscriptionId: string): PlannedDeal['stage'] | undefined {
  const known = written.stages?.[subscriptionId];
  if (known) return known;
  const fingerprint = written.deals[subscriptionId];
  if (!fingerprint) return undefined;
  const stage: unknown = (JSON.parse(fingerprint) as unknown[])[3];
  return stage === 'open' || stage === 'won' || stage === 'lost' ? stage : undefined;
}

/**
 * Forgets what was written so the next round writes every field again (a full resync, a backfill write
 * since the last round), but not the deal stages we wrote: those decide whether a person moved a deal.
 */
export function forgetWrites(written: LastWritten): LastWritten {
  const stages: Record<string, PlannedDeal['stage']> = {};
  for (const subscriptionId of new Set([...Object.keys(written.deals), ...Object.keys(written.stages ?? {})])) {
    const stage = lastWrittenStage(written, subscriptionId);
    if (stage) stages[subscriptionId] = stage;
  }
  return { fields: null, contactEmail: null, deals: {}, stages };
}

export function planCrmWrites(state: CustomerSyncState, links: CrmLinks, written: LastWritten, settings: SyncSettings, now: number): CrmPlan {
  const fields = computeCrmFields(state.billing, { now, mrr: settings.mrr });
  const changedFields = changedCrmFields(written.fields, fields);
  const email = state.billing.customer.email;
  const writeContact = email !== null && (links.contactId === null || written.contactEmail !== email || (settings.mode === 'b2c' && changedFields.length > 0));
  const writeAccount = settings.mode === 'b2b' && (links.accountId === null || changedFields.length > 0);
  const deals = planDeals(state, settings, now)
    .filter((deal) => !links.dealIds[deal.subscriptionId] || written.deals[deal.subscriptionId] !== dealFingerprint(deal))
    .map((deal) => {
      const lastStage = links.dealIds[deal.subscriptionId] ? lastWrittenStage(written, deal.subscriptionId) : undefined;
      return lastStage === undefined ? deal : { ...deal, lastStage };
    });
  return { fields, changedFields, writeAccount, writeContact, deals, timeline: state.pendingTimeline };
}

/** Splits "Jane Q. Doe" into first and last name the way CRMs store contacts. */
export function splitName(name: string | null): { firstName: string | null; lastName: string | null } {
  const parts = (name ?? '').trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) return { firstName: null, lastName: null };
  if (parts.length === 1) return { firstName: parts[0]!, lastName: null };
  return { firstName: parts.slice(0, -1).join(' '), lastName: parts[parts.length - 1]! };
}
