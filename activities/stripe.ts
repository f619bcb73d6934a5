import { ApplicationFailure } from '@temporalio/activity';
import type { Kysely } from 'kysely';
import Stripe from 'stripe';
import { accountRequestOptions } from '../clients/stripe.js';
import type { Database } from '../db/database.js';
import {
  customerSnapshotFromStripe,
  discountSnapshotFromStripe,
  paymentFromCharge,
  paymentFromRefund,
  subscriptionSnapshotFromStripe,
  type DiscountSnapshot,
  type PaymentSnapshot,
  type StripeSubscriptionInput,
} from '../domain/billing-snapshot.js';
import type { FetchedCustomer } from '../domain/customer-sync-state.js';
import { catalogProductNames } from './product-names.js';
import { applyPayments, createPaymentAggregates, type PaymentAggregates } from '../domain/payment-aggregates.js';

export interface StripeActivityDeps {
  stripe: Stripe;
  db: Kysely<Database>;
  primaryAccountId: string;
}

/** Stripe's "not found" and other 4xx invalid requests will not heal by retrying. */
function translate(err: unknown): never {
  if (err instanceof Stripe.errors.StripeInvalidRequestError) {
    throw ApplicationFailure.create({ type: 'StripeInvalidRequest', message: err.message, nonRetryable: true });
  }
  if (err instanceof Stripe.errors.StripeRateLimitError) {
    throw ApplicationFailure.create({ type: 'StripeRateLimited', message: err.message, nextRetryDelay: '2 seconds' });
  }
  throw err;
}

export function createStripeActivities(deps: StripeActivityDeps) {
  const opts = (accountId: string) => accountRequestOptions(accountId, deps.primaryAccountId);

  /**
   * The customer with its default payment method and discount terms. A deleted customer is a stub
   * that cannot be expanded (Stripe answers 400), so that case falls back to the plain object.
   */
  async function retrieveCustomer(customerId: string, options: Stripe.RequestOptions): Promise<Stripe.Customer | Stripe.DeletedCustomer> {
    try {
      return await deps.stripe.customers.retrieve(customerId, { expand: ['invoice_settings.default_payment_method', 'discount.source.coupon'] }, options);
    } catch (err) {
      if (!(err instanceof Stripe.errors.StripeInvalidRequestError)) throw err;
      const plain = await deps.stripe.customers.retrieve(customerId, {}, options);
      if ('deleted' in plain && plain.deleted) return plain;
      throw err;
    }
  }

  return {
    /**
     * Reads a customer's current state: the customer, every subscription (with discount terms),
     * and with `includePayments` the charge and refund history to rebuild payment totals.
     */
    async fetchStripeCustomer(input: { accountId: string; customerId: string; includePayments: boolean }): Promise<{ customer: FetchedCustomer; payments: PaymentAggregates | null }> {
      try {
        const fetchedAt = Math.floor(Date.now() / 1000);
        const raw = await retrieveCustomer(input.customerId, opts(input.accountId));
        const customer = customerSnapshotFromStripe(raw as Stripe.Customer);
        if ('deleted' in raw && raw.deleted) customer.deleted = true;
        const subscriptions = [];
        const discounts: DiscountSnapshot[] = [];
        if (!('deleted' in raw && raw.deleted)) {
          // Discounts name their coupon by id: expand it, or MRR cannot apply the terms.
          for await (const sub of deps.stripe.subscriptions.list({ customer: input.customerId, status: 'all', limit: 100, expand: ['data.discounts.source.coupon'] }, opts(input.accountId))) {
            const snapshot = subscriptionSnapshotFromStripe(sub as StripeSubscriptionInput);
            subscriptions.push(snapshot);
            for (const d of sub.discounts ?? []) {
              if (typeof d !== 'string') {
                const s = discountSnapshotFromStripe(d);
                if (s) discounts.push(s);
              }
            }
          }
        }
        let payments: PaymentAggregates | null = null;
        if (input.includePayments) {
          const snapshots: PaymentSnapshot[] = [];
          for await (const charge of deps.stripe.charges.list({ customer: input.customerId, limit: 100, expand: ['data.refunds'] }, opts(input.accountId))) {
            snapshots.push(paymentFromCharge(charge));
            for (const refund of charge.refunds?.data ?? []) snapshots.push(paymentFromRefund(refund));
          }
          payments = applyPayments(createPaymentAggregates(), snapshots.sort((a, b) => a.created - b.created));
        }
        return { customer: { fetchedAt, customer, subscriptions, discounts, productNames: {} }, payments };
      } catch (err) {
        return translate(err);
      }
    },

    /** Product names for plan_name: the catalog table first (kept current by product.* events), then Stripe. */
    async lookupProductNames(input: { accountId: string; productIds: string[] }): Promise<Record<string, string>> {
      return catalogProductNames(deps.db, input.accountId, input.productIds, async (productId) => {
        try {
          return await deps.stripe.products.retrieve(productId, {}, opts(input.accountId));
        } catch (err) {
          return translate(err);
        }
      });
    },
  };
}
