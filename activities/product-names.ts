import type { Kysely } from 'kysely';
import type Stripe from 'stripe';
import type { Database } from '../db/database.js';

/**
 * Product names from the catalog table; a product it does not hold yet is read from Stripe through
 * `retrieve` (the caller's pacing and error translation) and recorded, so it is read once.
 */
export async function catalogProductNames(
  db: Kysely<Database>,
  accountId: string,
  productIds: readonly string[],
  retrieve: (productId: string) => Promise<Stripe.Product>,
): Promise<Record<string, string>> {
  const names: Record<string, string> = {};
  if (productIds.length === 0) return names;
  const rows = await db.selectFrom('stripeProducts').select(['productId', 'name'])
    .where('accountId', '=', accountId).where('productId', 'in', [...productIds]).execute();
  for (const row of rows) names[row.productId] = row.name;
  for (const productId of productIds.filter((id) => !(id in names))) {
    const product = await retrieve(productId);
    names[productId] = product.name;
    await db.insertInto('stripeProducts')
      .values({ accountId, productId, name: product.name, active: product.active, stateAt: new Date(product.updated * 1000) })
      .onConflict((oc) => oc.columns(['accountId', 'productId']).doNothing())
      .execute();
  }
  return names;
}
