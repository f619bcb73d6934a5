import { createCrmAdapter } from '../clients/crm.js';
import { ConfigError, loadConfig } from '../config/index.js';
import { crmConnectionFromConfig } from '../workers/services.js';

/**
 * `npm run setup`: provisions the CRM for this service, idempotently. HubSpot: creates the
 * `stripe_*` properties (the Stripe id unique). Salesforce: fields cannot be created through the
 * data API, so it checks them via describe and prints exactly what an admin must add.
 */
try {
  const config = loadConfig();
  const adapter = await createCrmAdapter(await crmConnectionFromConfig(config));
  const report = await adapter.provision();
  console.log(`${adapter.provider}: ${report.created.length} created, ${report.existing.length} already present, ${report.missing.length} missing`);
  for (const name of report.created) console.log(`  created  ${name}`);
  if (report.missing.length > 0) {
    if (adapter.provider === 'salesforce') {
      const { formatSalesforceProvisionReport } = await import('../activities/crm/salesforce/index.js');
      console.log(`\n${formatSalesforceProvisionReport(report)}`);
    } else {
      for (const name of report.missing) console.log(`  missing  ${name}`);
    }
    process.exit(1);
  }
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(1);
  }
  console.error(`setup failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
