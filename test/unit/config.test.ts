import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config/index.js';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => p.variable).sort();
    throw err;
  }
  return [];
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig({});
    expect(c.api.port).toBe(3000);
    expect(c.database.url).toBeUndefined();
    expect(c.temporal).toMatchObject({ namespace: 'default', tls: false, devServerPort: 7233, uiPort: 8233 });
    expect(c.temporal.address).toBeUndefined();
    expect(c.crm.rateLimitPerSecond).toBe(19);
  });

  it.each([
    [{ PORT: 'abc' }, ['PORT']],
    [{ PORT: '70000' }, ['PORT']],
    [{ PORT: '0' }, ['PORT']],
    [{ DATABASE_URL: 'not a url' }, ['DATABASE_URL']],
    [{ DATABASE_URL: 'mysql://root@localhost/db' }, ['DATABASE_URL']],
    [{ TEMPORAL_ADDRESS: 'http://localhost:7233' }, ['TEMPORAL_ADDRESS']],
    [{ LOG_LEVEL: 'loud' }, ['LOG_LEVEL']],
    [{ CRM_RATE_LIMIT_PER_SECOND: '-1' }, ['CRM_RATE_LIMIT_PER_SECOND']],
    [{ TEMPORAL_TLS_CLIENT_CERT_PATH: '/tmp/c.pem' }, ['TEMPORAL_TLS_CLIENT_KEY_PATH']],
    [{ PORT: 'x', DATABASE_URL: 'nope', TEMPORAL_ADDRESS: 'a b' }, ['DATABASE_URL', 'PORT', 'TEMPORAL_ADDRESS']],
    [{ CRM_SUBSCRIPTION_OBJECT: 'stripe-subscription' }, ['CRM_SUBSCRIPTION_OBJECT']],
    [{ CRM_SUBSCRIPTION_OBJECT: 'companies' }, ['CRM_SUBSCRIPTION_OBJECT']],
    [{ CRM_PROVIDER: 'salesforce', CRM_SUBSCRIPTION_OBJECT: 'stripe_subscription' }, ['CRM_SUBSCRIPTION_OBJECT']],
    [{ FIELD_OWNERSHIP: 'dealstage=crm' }, ['FIELD_OWNERSHIP']],
    [{ FIELD_OWNERSHIP: 'name=salesforce' }, ['FIELD_OWNERSHIP']],
    [{ FIELD_OWNERSHIP: 'name' }, ['FIELD_OWNERSHIP']],
  ])('rejects %j naming %j', (env, expected) => {
    expect(problemsOf(env)).toEqual(expected);
  });

  it.each([
    [{}, undefined],
    [{ CRM_SUBSCRIPTION_OBJECT: 'deal' }, undefined],
    [{ CRM_SUBSCRIPTION_OBJECT: 'stripe_subscription' }, 'stripe_subscription'],
    [{ CRM_SUBSCRIPTION_OBJECT: ' 2-3508482 ' }, '2-3508482'],
    [{ CRM_PROVIDER: 'salesforce', CRM_SUBSCRIPTION_OBJECT: 'Opportunity' }, undefined],
    [{ CRM_PROVIDER: 'salesforce', CRM_SUBSCRIPTION_OBJECT: 'Stripe_Subscription__c' }, 'Stripe_Subscription__c'],
  ])('CRM_SUBSCRIPTION_OBJECT %j → %s', (env, expected) => {
    expect(loadConfig(env).crm.subscriptionObject).toBe(expected);
  });

  it.each([
    [{}, { name: 'shared', domain: 'shared', email: 'shared', deal_stage: 'crm' }],
    [{ FIELD_OWNERSHIP: ' deal_stage = shared , name=crm,email=stripe ' }, { name: 'crm', domain: 'shared', email: 'stripe', deal_stage: 'shared' }],
  ])('FIELD_OWNERSHIP %j → %j', (env, expected) => {
    expect(loadConfig(env).ownership).toEqual(expected);
  });

  it('says what a bad CRM_SUBSCRIPTION_OBJECT should look like for the provider', () => {
    expect(() => loadConfig({ CRM_PROVIDER: 'salesforce', CRM_SUBSCRIPTION_OBJECT: 'subs' })).toThrow(/CRM_SUBSCRIPTION_OBJECT: must be Opportunity or a custom object API name such as Stripe_Subscription__c.*CRM_PROVIDER=salesforce/);
  });

  it('names every bad variable in one message', () => {
    expect(() => loadConfig({ PORT: 'abc', DATABASE_URL: 'nope' })).toThrow(/PORT: .*\n.*DATABASE_URL|DATABASE_URL: .*\n.*PORT/);
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '' }).api.port).toBe(3000);
  });

  it.each([
    [{}, false],
    [{ TEMPORAL_API_KEY: 'key' }, {}],
    [{ TEMPORAL_API_KEY: 'key', TEMPORAL_TLS: 'false' }, false],
    [{ TEMPORAL_TLS: 'true', TEMPORAL_TLS_SERVER_NAME: 'ns.tmprl.cloud' }, { serverName: 'ns.tmprl.cloud' }],
    [{ TEMPORAL_TLS_CLIENT_CERT_PATH: '/c', TEMPORAL_TLS_CLIENT_KEY_PATH: '/k' }, { clientCertPath: '/c', clientKeyPath: '/k' }],
  ])('derives Temporal TLS from %j', (env, tls) => {
    expect(loadConfig(env).temporal.tls).toEqual(tls);
  });
});

describe('.env.example', () => {
  it('documents every variable the config module reads, and nothing else', async () => {
    const { readFileSync } = await import('node:fs');
    const { CONFIG_VARIABLES } = await import('../../config/index.js');
    const text = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
    const documented = [...text.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]);
    expect([...new Set(documented)].sort()).toEqual([...CONFIG_VARIABLES].sort());
  });
});
