import { Hono } from 'hono';
import { z } from 'zod';
import type { RunningSandboxes } from '../sandboxes/start-all.js';
import type { FieldValue } from '../sandboxes/salesforce/schema.js';
import type { Values } from '../sandboxes/salesforce/store.js';
import { listen, type RunningSandbox } from '../sandboxes/shared/serve.js';

/** Records a CRM holds before a benchmark starts: companies/Accounts, and contacts each at one of them (or none). */
export interface CrmSeed {
  /** The property (HubSpot) or field (Salesforce) the sync keeps the Stripe customer id in. */
  customerIdField: string;
  companies: Array<{ name: string; domain: string | null; stripeCustomerId: string | null }>;
  /** `company` is an index into `companies`. */
  contacts: Array<{ email: string; firstName: string; lastName: string; company: number | null }>;
}

/** The record ids the CRM gave, in the order of the seed's lists. */
export interface CrmSeedResult {
  companyIds: string[];
  contactIds: string[];
}

const seedBody = z.object({
  customerIdField: z.string().min(1),
  companies: z.array(z.object({ name: z.string(), domain: z.string().nullable(), stripeCustomerId: z.string().nullable() }).strict()),
  contacts: z.array(z.object({ email: z.string(), firstName: z.string(), lastName: z.string(), company: z.number().int().min(0).nullable() }).strict()),
}).strict();

/**
 * A benchmark's admin endpoint in the sandboxes' process (scripts/bench-sandboxes-process.ts), on a port
 * of its own: `POST /hubspot` and `POST /salesforce` write a CrmSeed straight into that sandbox's store,
 * as an import would. Neither sandbox has a seeding route, and through their APIs thousands of records
 * would spend the rate window (HubSpot) or the request count the benchmark measures. The stores still
 * validate every value (unknown properties, unique emails, references), so a bad seed fails loudly.
 */
export async function startCrmSeedServer(sandboxes: RunningSandboxes): Promise<RunningSandbox> {
  const app = new Hono();
  app.post('/hubspot', async (c) => c.json(seedHubSpot(sandboxes, seedBody.parse(await c.req.json()))));
  app.post('/salesforce', async (c) => c.json(seedSalesforce(sandboxes, seedBody.parse(await c.req.json()))));
  app.onError((err, c) => c.json({ error: `${err.name}: ${err.message}` }, 500));
  return listen(app, 0);
}

function seedHubSpot(sandboxes: RunningSandboxes, seed: CrmSeed): CrmSeedResult {
  const store = sandboxes.hubspot.sandbox.store;
  const companyIds = seed.companies.map((c) => {
    const values = new Map([['name', c.name], ...(c.domain ? [['domain', c.domain] as const] : []), ...(c.stripeCustomerId ? [[seed.customerIdField, c.stripeCustomerId] as const] : [])]);
    return store.commitCreate('companies', store.prepare('companies', values)).id;
  });
  // The association a batch create with HubSpot's contact-to-company type makes: the pair's unlabeled one.
  const toCompany = store.associations.unlabeledType('contacts', 'companies');
  const contactIds = seed.contacts.map((k) => {
    const rec = store.commitCreate('contacts', store.prepare('contacts', new Map([['email', k.email], ['firstname', k.firstName], ['lastname', k.lastName]])));
    if (k.company !== null) store.associations.add('contacts', rec.id, 'companies', companyAt(companyIds, k.company), [toCompany]);
    return rec.id;
  });
  return { companyIds, contactIds };
}

function seedSalesforce(sandboxes: RunningSandboxes, seed: CrmSeed): CrmSeedResult {
  const { store, schema } = sandboxes.salesforce.sandbox;
  const objectOf = (name: string) => {
    const obj = schema.get(name);
    if (!obj) throw new Error(`the Salesforce sandbox has no ${name}`);
    const values = (entries: Array<[string, FieldValue]>): Values => new Map(entries.map(([field, value]) => {
      const def = obj.fieldsByLower.get(field.toLowerCase());
      if (!def) throw new Error(`${name} has no field ${field}`);
      return [def, value];
    }));
    return { obj, values };
  };
  const account = objectOf('Account');
  const contact = objectOf('Contact');
  const companyIds = seed.companies.map((c) => String(store.insert(account.obj, account.values([
    ['Name', c.name], ...(c.domain ? [['Website', c.domain] as [string, FieldValue]] : []), ...(c.stripeCustomerId ? [[seed.customerIdField, c.stripeCustomerId] as [string, FieldValue]] : []),
  ])).Id));
  const contactIds = seed.contacts.map((k) => String(store.insert(contact.obj, contact.values([
    ['Email', k.email], ['FirstName', k.firstName], ['LastName', k.lastName], ...(k.company !== null ? [['AccountId', companyAt(companyIds, k.company)] as [string, FieldValue]] : []),
  ])).Id));
  return { companyIds, contactIds };
}

function companyAt(ids: readonly string[], index: number): string {
  const id = ids[index];
  if (id === undefined) throw new Error(`a contact names company ${index}; the seed has ${ids.length}`);
  return id;
}
