import { describe, expect, it } from 'vitest';
import type { CrmFieldName, CrmFieldNameOverrides, CrmProvider } from '../../domain/crm-field-names.js';
import {
  assertValidCrmPropertyName,
  CRM_FIELD_NAMES,
  CRM_FIELDS,
  crmFieldNames,
  crmPropertyDefinitions,
} from '../../domain/crm-field-names.js';
import { DuplicateCrmFieldNameError, InvalidCrmFieldNameError, UnknownCrmFieldError } from '../../domain/errors.js';

describe('crmFieldNames defaults', () => {
  it.each<[CrmFieldName, string, string]>([
    ['customer_id', 'stripe_customer_id', 'Stripe_Customer_ID__c'],
    ['mrr', 'stripe_mrr', 'Stripe_MRR__c'],
    ['ltv', 'stripe_ltv', 'Stripe_LTV__c'],
    ['next_renewal_date', 'stripe_next_renewal_date', 'Stripe_Next_Renewal_Date__c'],
    ['last_mrr_change_kind', 'stripe_last_mrr_change_kind', 'Stripe_Last_MRR_Change_Kind__c'],
    ['days_to_first_payment', 'stripe_days_to_first_payment', 'Stripe_Days_To_First_Payment__c'],
    ['synced_at', 'stripe_synced_at', 'Stripe_Synced_At__c'],
  ])('%s → %s / %s', (field, hubspot, salesforce) => {
    expect(crmFieldNames('hubspot')[field]).toBe(hubspot);
    expect(crmFieldNames('salesforce')[field]).toBe(salesforce);
  });

  it('gives every field a name each provider accepts', () => {
    for (const provider of ['hubspot', 'salesforce'] as const) {
      const names = crmFieldNames(provider);
      expect(Object.keys(names).sort()).toEqual([...CRM_FIELD_NAMES].sort());
      for (const name of Object.values(names)) expect(() => assertValidCrmPropertyName(provider, name)).not.toThrow();
    }
  });

  it('covers at least the fields the sync promises', () => {
    expect(CRM_FIELD_NAMES).toEqual(expect.arrayContaining([
      'customer_id', 'subscription_status', 'mrr', 'currency', 'plan_name', 'billing_interval', 'next_renewal_date',
      'payment_method_status', 'ltv', 'last_payment_date', 'last_payment_amount', 'failed_payment_count', 'delinquent',
      'days_to_first_payment', 'discount', 'cancel_at_period_end', 'last_mrr_change', 'last_mrr_change_kind', 'synced_at',
    ]));
  });
});

describe('crmFieldNames overrides', () => {
  it('renames and drops fields', () => {
    const names = crmFieldNames('hubspot', { mrr: 'monthly_recurring_revenue', discount: null });
    expect(names.mrr).toBe('monthly_recurring_revenue');
    expect(names).not.toHaveProperty('discount');
    expect(crmFieldNames('salesforce', { mrr: 'acme__MRR__c' }).mrr).toBe('acme__MRR__c');
  });

  it.each<[CrmProvider, string]>([
    ['hubspot', 'Stripe_MRR'],
    ['hubspot', '1mrr'],
    ['hubspot', 'stripe-mrr'],
    ['hubspot', ''],
    ['salesforce', 'Stripe_MRR'],
    ['salesforce', 'Stripe_Last__MRR__c'],
    ['salesforce', 'Stripe_MRR___c'],
    ['salesforce', '_Stripe_MRR__c'],
    ['salesforce', 'Stripe MRR__c'],
    ['salesforce', `${'A'.repeat(41)}__c`],
  ])('%s rejects %j', (provider, name) => {
    expect(() => crmFieldNames(provider, { mrr: name })).toThrow(InvalidCrmFieldNameError);
  });

  it('accepts a 40-character Salesforce name', () => {
    expect(crmFieldNames('salesforce', { mrr: `${'A'.repeat(40)}__c` }).mrr).toHaveLength(43);
  });

  it('rejects two fields on one property (Salesforce names are case-insensitive)', () => {
    expect(() => crmFieldNames('hubspot', { mrr: 'stripe_ltv' })).toThrow(DuplicateCrmFieldNameError);
    expect(() => crmFieldNames('salesforce', { mrr: 'stripe_ltv__c' })).toThrow(DuplicateCrmFieldNameError);
    // Dropping the clashing field makes the name free again.
    expect(crmFieldNames('hubspot', { mrr: 'stripe_ltv', ltv: null }).mrr).toBe('stripe_ltv');
  });

  it('rejects unknown fields', () => {
    expect(() => crmFieldNames('hubspot', { arr: 'stripe_arr' } as unknown as CrmFieldNameOverrides)).toThrow(UnknownCrmFieldError);
  });
});

describe('crmPropertyDefinitions', () => {
  it('describes types, options and provider hints for provisioning', () => {
    const hubspot = crmPropertyDefinitions('hubspot');
    const byField = new Map(hubspot.map((definition) => [definition.field, definition]));
    expect(byField.get('subscription_status')).toMatchObject({
      name: 'stripe_subscription_status', type: 'enumeration', hubspot: { type: 'enumeration', fieldType: 'select' },
      options: ['active', 'past_due', 'trialing', 'unpaid', 'paused', 'incomplete', 'incomplete_expired', 'canceled', 'none'],
    });
    expect(byField.get('mrr')).toMatchObject({ type: 'number', hubspot: { fieldType: 'number' }, salesforce: { type: 'Number', precision: 18, scale: 3 } });
    expect(byField.get('failed_payment_count')).toMatchObject({ salesforce: { type: 'Number', scale: 0 } });
    expect(byField.get('delinquent')).toMatchObject({ type: 'bool', hubspot: { fieldType: 'booleancheckbox' }, salesforce: { type: 'Checkbox' } });
    expect(byField.get('next_renewal_date')).toMatchObject({ type: 'date', salesforce: { type: 'Date' } });
    expect(byField.get('synced_at')).toMatchObject({ type: 'datetime', hubspot: { type: 'datetime', fieldType: 'date' }, salesforce: { type: 'DateTime' } });
    expect(byField.get('plan_name')).toMatchObject({ type: 'string', options: [], salesforce: { type: 'Text', length: 255 } });
    for (const definition of hubspot) {
      expect(definition.label.length).toBeLessThanOrEqual(40);
      expect(definition.description.length).toBeGreaterThan(0);
    }
  });

  it('follows overrides', () => {
    const definitions = crmPropertyDefinitions('salesforce', { discount: null, mrr: 'MRR__c' });
    expect(definitions.map((d) => d.field)).not.toContain('discount');
    expect(definitions.find((d) => d.field === 'mrr')?.name).toBe('MRR__c');
    expect(definitions).toHaveLength(CRM_FIELD_NAMES.length - 1);
  });

  it('only enumerations carry options', () => {
    for (const [field, definition] of Object.entries(CRM_FIELDS)) {
      expect('options' in definition, field).toBe(definition.type === 'enumeration');
    }
  });
});
