import type { Client } from '@hubspot/api-client';
import type { CrmCandidate } from '../../../domain/identity.js';
import type { CrmAdapter } from '../types.js';
import { hubspotCall } from './errors.js';

/**
 * Identity lookups for HubSpot: companies carrying the Stripe id or at the customer's domain (one
 * search), and the companies of contacts with the customer's email (a search, an association read
 * and a company read). Made once per customer, when it is first linked.
 */
export function hubspotIdentityMethods(deps: { client: Client; customerIdProperty: string }): Pick<CrmAdapter, 'findAccountCandidates' | 'claimAccount'> {
  const { client, customerIdProperty } = deps;
  const companyProperties = ['name', 'domain', customerIdProperty];
  type Company = { id: string; properties: Record<string, string | null> };

  const toCandidate = (company: Company, emails: string[]): CrmCandidate => ({
    recordId: company.id,
    stripeCustomerId: company.properties[customerIdProperty] || null,
    emails,
    domain: company.properties.domain ?? null,
    name: company.properties.name ?? null,
  });

  return {
    async findAccountCandidates({ customerId, email, domain }) {
      const byId = new Map<string, CrmCandidate>();
      const filterGroups = [
        { filters: [{ propertyName: customerIdProperty, operator: 'EQ', value: customerId }] },
        ...(domain ? [{ filters: [{ propertyName: 'domain', operator: 'EQ', value: domain }] }, { filters: [{ propertyName: 'domain', operator: 'EQ', value: `www.${domain}` }] }] : []),
      ];
      const companies = await hubspotCall(() =>
        client.crm.companies.searchApi.doSearch({ filterGroups, properties: companyProperties, limit: 100, sorts: [], after: '0' } as never),
      );
      for (const company of companies.results as Company[]) byId.set(company.id, toCandidate(company, []));

      if (email) {
        const contacts = await hubspotCall(() =>
          client.crm.contacts.searchApi.doSearch({ filterGroups: [{ filters: [{ propertyName: 'email', operator: 'EQ', value: email }] }], properties: ['email'], limit: 10, sorts: [], after: '0' } as never),
        );
        const contactIds = contacts.results.map((c) => c.id);
        if (contactIds.length > 0) {
          const links = await hubspotCall(() => client.crm.associations.v4.batchApi.getPage('contacts', 'companies', { inputs: contactIds.map((id) => ({ id })) }));
          const companyIds = [...new Set(links.results.flatMap((r) => r.to.map((t) => String(t.toObjectId))))];
          if (companyIds.length > 0) {
            const read = await hubspotCall(() =>
              client.crm.companies.batchApi.read({ inputs: companyIds.map((id) => ({ id })), properties: companyProperties, propertiesWithHistory: [] }),
            );
            for (const company of read.results as Company[]) {
              const known = byId.get(company.id);
              byId.set(company.id, known ? { ...known, emails: [email] } : toCandidate(company, [email]));
            }
          }
        }
      }
      return [...byId.values()];
    },

    async claimAccount({ recordId, customerId }) {
      await hubspotCall(() => client.crm.companies.basicApi.update(recordId, { properties: { [customerIdProperty]: customerId ?? '' } }));
    },
  };
}
