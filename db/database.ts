import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

/** Timestamps are written as Date and read back as Date (pg and PGlite both parse timestamptz). */
type Timestamp = ColumnType<Date, Date | string, Date | string>;
/** jsonb columns are read as parsed JSON and written as a JSON string, which both drivers accept. */
type Json<T> = ColumnType<T, string, string>;

/** Every Stripe event the API received, for audit and delivery metrics. */
export interface StripeEventTable {
  eventId: string;
  type: string;
  /** Stripe's `event.created` */
  createdAt: Timestamp;
  accountId: string;
  customerId: string | null;
  livemode: boolean;
  /** first time we saw it */
  receivedAt: Timestamp;
  /** when the customer workflow applied it; null until then */
  processedAt: Timestamp | null;
  deliveries: Generated<number>;
  /** 'routed' | 'ignored-livemode' | 'unhandled-type' | 'catalog' */
  disposition: string;
  workflowId: string | null;
}

export interface Database {
  stripeEvents: StripeEventTable;
}

export type StripeEvent = Selectable<StripeEventTable>;
export type NewStripeEvent = Insertable<StripeEventTable>;
export type { Json };
