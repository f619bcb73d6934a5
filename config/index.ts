import { z } from 'zod';
import { InvalidSubscriptionObjectError } from '../domain/errors.js';
import { DEFAULT_FIELD_OWNERSHIP, OWNED_FIELDS, type FieldOwner, type FieldOwnership, type OwnedField } from '../domain/identity.js';
import { parseSubscriptionObject } from '../domain/subscription-object.js';

/**
 * The one place that reads the environment. Every other module receives a `Config`.
 * Temporal variables follow Temporal's own environment conventions (TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*), so the same deployment points at a
 * self-hosted cluster or Temporal Cloud by changing variables only.
 */

const emptyToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const optionalString = z.preprocess(emptyToUndefined, z.string().optional());
const int = (fallback: number, min: number, max: number) =>
  z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^\d+$/, { message: `must be a whole number between ${min} and ${max}` })
      .optional()
      .transform((v) => (v === undefined ? fallback : Number(v)))
      .pipe(z.number().int().min(min, { message: `must be at least ${min}` }).max(max, { message: `must be at most ${max}` })),
  );
const positiveNumber = (fallback: number) =>
  z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^\d+(\.\d+)?$/, { message: 'must be a positive number' })
      .optional()
      .transform((v) => (v === undefined ? fallback : Number(v)))
      .pipe(z.number().positive({ message: 'must be greater than 0' })),
  );
const port = (fallback: number) => int(fallback, 1, 65535);
const score = (fallback: number) =>
  z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^(0(\.\d+)?|1(\.0+)?)$/, { message: 'must be a score between 0 and 1' })
      .optional()
      .transform((v) => (v === undefined ? fallback : Number(v))),
  );
const url = (protocols: string[], what: string) =>
  z.preprocess(
    emptyToUndefined,
    z
      .string()
      .refine((v) => {
        try {
          return protocols.includes(new URL(v).protocol);
        } catch {
          return false;
        }
      }, { message: `must be a ${what} URL (${protocols.map((p) => `${p}//`).join(' or ')}...)` })
      .optional(),
  );
const TIME_OF_DAY = /^([01]?\d|2[0-3]):[0-5]\d$/;
const DAY_AND_TIME = /^(monday|tuesday|wednesday|thursday|friday|saturday|sunday) ([01]?\d|2[0-3]):[0-5]\d$/i;
const validTimeZone = (zone: string) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
};
const envSchema = z.object({
  PORT: port(3000),
  HOST: z.preprocess(emptyToUndefined, z.string().default('0.0.0.0')),
  LOG_LEVEL: z.preprocess(emptyToUndefined, z.enum(['debug', 'info', 'warn', 'error']).default('info')),
  DATA_DIR: z.preprocess(emptyToUndefined, z.string().default('.data')),
  DATABASE_URL: url(['postgres:', 'postgresql:'], 'PostgreSQL'),
  DATABASE_POOL_MAX: int(10, 1, 1000),

  TEMPORAL_ADDRESS: z.preprocess(
    emptyToUndefined,
    z.string().regex(/^[^\s:/]+:\d{1,5}$/, { message: 'must be host:port' }).optional(),
  ),
  TEMPORAL_NAMESPACE: z.preprocess(emptyToUndefined, z.string().default('default')),
  TEMPORAL_API_KEY: optionalString,
  TEMPORAL_TLS: z.preprocess(emptyToUndefined, z.enum(['true', 'false', '1', '0']).optional()),
  TEMPORAL_TLS_CLIENT_CERT_PATH: optionalString,
  TEMPORAL_TLS_CLIENT_KEY_PATH: optionalString,
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: optionalString,
  TEMPORAL_TLS_SERVER_NAME: optionalString,
  TEMPORAL_CLI_PATH: optionalString,
  TEMPORAL_DEV_SERVER_PORT: port(7233),
  TEMPORAL_UI_PORT: port(8233),

  WORKER_SHUTDOWN_GRACE_SECONDS: int(30, 0, 3600),

  STRIPE_API_KEY: z.preprocess(
    emptyToUndefined,
    z.string().regex(/^(sk|rk)_(test|live)_\S+$/, { message: 'must be a Stripe secret or restricted key (sk_test_..., sk_live_..., rk_...)' }).optional(),
  ),
  STRIPE_API_BASE_URL: url(['http:', 'https:'], 'HTTP(S)'),
  STRIPE_WEBHOOK_SECRETS: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .optional()
      .transform((v) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : []))
      .pipe(z.array(z.string().regex(/^((acct_[A-Za-z0-9]+)=)?whsec_\S+$/, { message: 'each entry must be whsec_... or acct_...=whsec_...' }))),
  ),
  STRIPE_ACCOUNT_ID: z.preprocess(emptyToUndefined, z.string().regex(/^[A-Za-z0-9_]+$/, { message: 'must be an account id like acct_123' }).default('primary')),
  STRIPE_MODE: z.preprocess(emptyToUndefined, z.enum(['live', 'test']).optional()),
  STRIPE_READ_RATE_LIMIT_PER_SECOND: positiveNumber(20),

  CRM_PROVIDER: z.preprocess(emptyToUndefined, z.enum(['hubspot', 'salesforce']).default('hubspot')),
  CRM_RATE_LIMIT_PER_SECOND: positiveNumber(19),
  SYNC_MODE: z.preprocess(emptyToUndefined, z.enum(['b2b', 'b2c']).default('b2b')),
  MRR_DISCOUNTS: z.preprocess(emptyToUndefined, z.enum(['apply', 'ignore']).default('apply')),
  CRM_FIELD_MAPPING: optionalString,
  // Checked against CRM_PROVIDER below: what names an object differs between HubSpot and Salesforce.
  CRM_SUBSCRIPTION_OBJECT: optionalString,
  SYNC_DEBOUNCE_MS: int(250, 0, 60_000),
  IDENTITY_NO_CANDIDATE: z.preprocess(emptyToUndefined, z.enum(['create', 'review', 'unlinked']).default('create')),
  IDENTITY_PLUS_ADDRESSING: z.preprocess(emptyToUndefined, z.enum(['true', 'false']).default('false')),
  IDENTITY_AUTO_LINK_SCORE: score(0.94),
  IDENTITY_REVIEW_SCORE: score(0.85),
  // field=owner pairs overriding DEFAULT_FIELD_OWNERSHIP, e.g. "deal_stage=shared,name=crm"; checked below.
  FIELD_OWNERSHIP: optionalString,
  HUBSPOT_ACCESS_TOKEN: optionalString,
  HUBSPOT_BASE_URL: url(['http:', 'https:'], 'HTTP(S)'),
  SALESFORCE_INSTANCE_URL: url(['http:', 'https:'], 'HTTP(S)'),
  SALESFORCE_ACCESS_TOKEN: optionalString,
  SALESFORCE_API_VERSION: z.preprocess(emptyToUndefined, z.string().regex(/^\d+\.\d$/, { message: 'must look like 62.0' }).default('62.0')),
  SALESFORCE_BULK_THRESHOLD: int(10_000, 0, 1_000_000_000),

  RECONCILIATION_SCHEDULES: z.preprocess(emptyToUndefined, z.enum(['on', 'off']).default('on')),
  RECONCILIATION_MODE: z.preprocess(emptyToUndefined, z.enum(['report', 'repair']).default('report')),
  RECONCILIATION_TIMEZONE: z.preprocess(emptyToUndefined, z.string().refine(validTimeZone, { message: 'must be an IANA time zone, e.g. Europe/Paris' }).default('UTC')),
  RECONCILIATION_DAILY_AT: z.preprocess(emptyToUndefined, z.string().regex(TIME_OF_DAY, { message: 'must be HH:MM, e.g. 03:00' }).default('03:00')),
  RECONCILIATION_WEEKLY_AT: z.preprocess(emptyToUndefined, z.string().regex(DAY_AND_TIME, { message: 'must be a weekday and HH:MM, e.g. sunday 04:00' }).default('sunday 04:00')),
  RECONCILIATION_DUPLICATES_AT: z.preprocess(emptyToUndefined, z.string().regex(DAY_AND_TIME, { message: 'must be a weekday and HH:MM, e.g. saturday 05:00' }).default('saturday 05:00')),

  SANDBOX_STRIPE_PORT: port(12111),
  SANDBOX_HUBSPOT_PORT: port(12112),
  SANDBOX_SALESFORCE_PORT: port(12113),
});

type Env = z.infer<typeof envSchema>;

/** Every variable the service reads; .env.example documents each (a test checks). */
export const CONFIG_VARIABLES = Object.keys(envSchema.shape);

export interface TemporalTlsConfig {
  clientCertPath?: string;
  clientKeyPath?: string;
  serverCaCertPath?: string;
  serverName?: string;
}

export interface Config {
  api: { port: number; host: string };
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Where local state lives: the embedded PostgreSQL and the local Temporal dev server's database. */
  dataDir: string;
  database: { url?: string; poolMax: number };
  temporal: {
    /** Absent: `npm start` runs a local dev server on `devServerPort`; the production entry points use localhost:7233. */
    address?: string;
    namespace: string;
    apiKey?: string;
    /** `false` for plain TCP; `true` or an object for TLS. An API key implies TLS, as Temporal Cloud requires. */
    tls: false | TemporalTlsConfig;
    cliPath?: string;
    devServerPort: number;
    uiPort: number;
  };
  worker: { shutdownGraceSeconds: number };
  stripe: {
    /** Absent: demo mode — `npm start` runs the Stripe sandbox and uses it. */
    apiKey?: string;
    /** Override of api.stripe.com, e.g. the sandbox. */
    apiBaseUrl?: string;
    /** Webhook signing secrets; several for rotation or several accounts, each optionally bound to an account. */
    webhookSecrets: Array<{ secret: string; accountId?: string }>;
    /** Account id used in workflow ids when an event names none (non-Connect events). */
    accountId: string;
    /** Events whose livemode differs from this are acknowledged and not written to the CRM. */
    mode: 'live' | 'test';
    /**
     * Backfill Stripe reads per second per account, across every worker (a token bucket in PostgreSQL).
     * Stripe allows 100 reads/s in live mode and 25 in test mode; the default leaves room for the real-time path.
     */
    readRateLimitPerSecond: number;
  };
  crm: {
    provider: 'hubspot' | 'salesforce';
    rateLimitPerSecond: number;
    /** b2b: company/Account plus contact; b2c: contact only. */
    mode: 'b2b' | 'b2c';
    mrrDiscounts: 'apply' | 'ignore';
    /** Path of a JSON file overriding CRM field names. */
    fieldMappingPath?: string;
    /**
     * The custom object subscriptions are written to instead of deals / Opportunities: HubSpot its name,
     * `p<portal>_<name>` or `2-<n>`; Salesforce its API name (`Stripe_Subscription__c`). Absent: the default.
     */
    subscriptionObject?: string;
    hubspot: { accessToken?: string; baseUrl?: string };
    salesforce: {
      instanceUrl?: string;
      accessToken?: string;
      apiVersion: string;
      /** Backfills larger than this many records write through Bulk API 2.0 instead of collections; 0 never. */
      bulkThreshold: number;
    };
  };
  sync: { debounceMs: number };
  /** Matching Stripe customers to existing CRM records (see domain/identity.ts). */
  identity: { noCandidate: 'create' | 'review' | 'unlinked'; plusAddressing: boolean; autoLinkScore: number; reviewScore: number };
  /** Who decides each field both Stripe and the CRM's users may edit (domain/identity.ts FieldOwner). */
  ownership: FieldOwnership;
  /** Scheduled reconciliation (Temporal Schedules created or updated at start). */
  reconciliation: {
    schedules: boolean;
    mode: 'report' | 'repair';
    /** IANA zone the times below are in. */
    timezone: string;
    daily: { hour: number; minute: number };
    weekly: { day: Weekday; hour: number; minute: number };
    duplicates: { day: Weekday; hour: number; minute: number };
  };
  sandboxes: { stripePort: number; hubspotPort: number; salesforcePort: number };
  /** True when no Stripe key and no CRM credentials are configured: `npm start` runs the demo on the sandboxes. */
  demo: boolean;
}

export type Weekday = 'MONDAY' | 'TUESDAY' | 'WEDNESDAY' | 'THURSDAY' | 'FRIDAY' | 'SATURDAY' | 'SUNDAY';

function timeOfDay(text: string): { hour: number; minute: number } {
  const [hour, minute] = text.slice(-5).trim().split(':').map(Number);
  return { hour: hour ?? 0, minute: minute ?? 0 };
}

function dayAndTime(text: string): { day: Weekday; hour: number; minute: number } {
  return { day: text.split(' ')[0]!.toUpperCase() as Weekday, ...timeOfDay(text.split(' ')[1]!) };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: Array<{ variable: string; message: string }>) {
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n'),
    );
  }
}

/** Parses the environment; throws one ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => ({
      variable: String(issue.path[0] ?? '(environment)'),
      message: issue.message,
    }));
    throw new ConfigError(problems);
  }
  const e: Env = parsed.data;
  const problems: Array<{ variable: string; message: string }> = [];
  const certPath = e.TEMPORAL_TLS_CLIENT_CERT_PATH;
  const keyPath = e.TEMPORAL_TLS_CLIENT_KEY_PATH;
  if (Boolean(certPath) !== Boolean(keyPath)) {
    problems.push({
      variable: certPath ? 'TEMPORAL_TLS_CLIENT_KEY_PATH' : 'TEMPORAL_TLS_CLIENT_CERT_PATH',
      message: 'mTLS needs both TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH',
    });
  }
  const crmCredentials = e.CRM_PROVIDER === 'hubspot' ? Boolean(e.HUBSPOT_ACCESS_TOKEN) : Boolean(e.SALESFORCE_ACCESS_TOKEN);
  if (e.STRIPE_API_KEY && !crmCredentials) {
    problems.push({
      variable: e.CRM_PROVIDER === 'hubspot' ? 'HUBSPOT_ACCESS_TOKEN' : 'SALESFORCE_ACCESS_TOKEN',
      message: `required when STRIPE_API_KEY is set and CRM_PROVIDER=${e.CRM_PROVIDER}`,
    });
  }
  if (e.CRM_PROVIDER === 'salesforce' && e.SALESFORCE_ACCESS_TOKEN && !e.SALESFORCE_INSTANCE_URL) {
    problems.push({ variable: 'SALESFORCE_INSTANCE_URL', message: 'required with SALESFORCE_ACCESS_TOKEN (e.g. https://yourorg.my.salesforce.com)' });
  }
  if (e.STRIPE_API_KEY && e.STRIPE_WEBHOOK_SECRETS.length === 0) {
    problems.push({ variable: 'STRIPE_WEBHOOK_SECRETS', message: 'required when STRIPE_API_KEY is set: webhooks cannot be verified without a signing secret' });
  }
  let subscriptionObject: string | null = null;
  try {
    subscriptionObject = parseSubscriptionObject(e.CRM_PROVIDER, e.CRM_SUBSCRIPTION_OBJECT);
  } catch (err) {
    if (!(err instanceof InvalidSubscriptionObjectError)) throw err;
    problems.push({ variable: 'CRM_SUBSCRIPTION_OBJECT', message: `${err.message} (CRM_PROVIDER=${e.CRM_PROVIDER})` });
  }
  const ownership: FieldOwnership = { ...DEFAULT_FIELD_OWNERSHIP };
  for (const pair of (e.FIELD_OWNERSHIP ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
    const [field, owner, extra] = pair.split('=').map((p) => p.trim());
    if (extra !== undefined || !OWNED_FIELDS.includes(field as OwnedField) || !['stripe', 'crm', 'shared'].includes(owner ?? '')) {
      problems.push({ variable: 'FIELD_OWNERSHIP', message: `${JSON.stringify(pair)} is not field=owner with field one of ${OWNED_FIELDS.join(', ')} and owner stripe, crm or shared` });
      continue;
    }
    ownership[field as OwnedField] = owner as FieldOwner;
  }
  if (e.IDENTITY_REVIEW_SCORE > e.IDENTITY_AUTO_LINK_SCORE) {
    problems.push({ variable: 'IDENTITY_REVIEW_SCORE', message: 'must not exceed IDENTITY_AUTO_LINK_SCORE' });
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const tlsRequested = e.TEMPORAL_TLS === undefined ? undefined : ['true', '1'].includes(e.TEMPORAL_TLS);
  const tlsDetails: TemporalTlsConfig = {
    ...(certPath ? { clientCertPath: certPath } : {}),
    ...(keyPath ? { clientKeyPath: keyPath } : {}),
    ...(e.TEMPORAL_TLS_SERVER_CA_CERT_PATH ? { serverCaCertPath: e.TEMPORAL_TLS_SERVER_CA_CERT_PATH } : {}),
    ...(e.TEMPORAL_TLS_SERVER_NAME ? { serverName: e.TEMPORAL_TLS_SERVER_NAME } : {}),
  };
  const tlsImplied = Boolean(e.TEMPORAL_API_KEY) || Object.keys(tlsDetails).length > 0;
  const tls = (tlsRequested ?? tlsImplied) ? tlsDetails : false;

  return {
    api: { port: e.PORT, host: e.HOST },
    logLevel: e.LOG_LEVEL,
    dataDir: e.DATA_DIR,
    database: { ...(e.DATABASE_URL ? { url: e.DATABASE_URL } : {}), poolMax: e.DATABASE_POOL_MAX },
    temporal: {
      ...(e.TEMPORAL_ADDRESS ? { address: e.TEMPORAL_ADDRESS } : {}),
      namespace: e.TEMPORAL_NAMESPACE,
      ...(e.TEMPORAL_API_KEY ? { apiKey: e.TEMPORAL_API_KEY } : {}),
      tls,
      ...(e.TEMPORAL_CLI_PATH ? { cliPath: e.TEMPORAL_CLI_PATH } : {}),
      devServerPort: e.TEMPORAL_DEV_SERVER_PORT,
      uiPort: e.TEMPORAL_UI_PORT,
    },
    worker: { shutdownGraceSeconds: e.WORKER_SHUTDOWN_GRACE_SECONDS },
    stripe: {
      ...(e.STRIPE_API_KEY ? { apiKey: e.STRIPE_API_KEY } : {}),
      ...(e.STRIPE_API_BASE_URL ? { apiBaseUrl: e.STRIPE_API_BASE_URL } : {}),
      webhookSecrets: e.STRIPE_WEBHOOK_SECRETS.map((entry) => {
        const [first, second] = entry.split('=');
        return second ? { accountId: first ?? '', secret: second } : { secret: first ?? '' };
      }),
      accountId: e.STRIPE_ACCOUNT_ID,
      mode: e.STRIPE_MODE ?? (/_live_/.test(e.STRIPE_API_KEY ?? '') ? 'live' : 'test'),
      readRateLimitPerSecond: e.STRIPE_READ_RATE_LIMIT_PER_SECOND,
    },
    crm: {
      provider: e.CRM_PROVIDER,
      rateLimitPerSecond: e.CRM_RATE_LIMIT_PER_SECOND,
      mode: e.SYNC_MODE,
      mrrDiscounts: e.MRR_DISCOUNTS,
      ...(e.CRM_FIELD_MAPPING ? { fieldMappingPath: e.CRM_FIELD_MAPPING } : {}),
      ...(subscriptionObject ? { subscriptionObject } : {}),
      hubspot: {
        ...(e.HUBSPOT_ACCESS_TOKEN ? { accessToken: e.HUBSPOT_ACCESS_TOKEN } : {}),
        ...(e.HUBSPOT_BASE_URL ? { baseUrl: e.HUBSPOT_BASE_URL } : {}),
      },
      salesforce: {
        ...(e.SALESFORCE_INSTANCE_URL ? { instanceUrl: e.SALESFORCE_INSTANCE_URL } : {}),
        ...(e.SALESFORCE_ACCESS_TOKEN ? { accessToken: e.SALESFORCE_ACCESS_TOKEN } : {}),
        apiVersion: e.SALESFORCE_API_VERSION,
        bulkThreshold: e.SALESFORCE_BULK_THRESHOLD,
      },
    },
    sync: { debounceMs: e.SYNC_DEBOUNCE_MS },
    identity: {
      noCandidate: e.IDENTITY_NO_CANDIDATE,
      plusAddressing: e.IDENTITY_PLUS_ADDRESSING === 'true',
      autoLinkScore: e.IDENTITY_AUTO_LINK_SCORE,
      reviewScore: e.IDENTITY_REVIEW_SCORE,
    },
    ownership,
    reconciliation: {
      schedules: e.RECONCILIATION_SCHEDULES === 'on',
      mode: e.RECONCILIATION_MODE,
      timezone: e.RECONCILIATION_TIMEZONE,
      daily: timeOfDay(e.RECONCILIATION_DAILY_AT),
      weekly: dayAndTime(e.RECONCILIATION_WEEKLY_AT),
      duplicates: dayAndTime(e.RECONCILIATION_DUPLICATES_AT),
    },
    sandboxes: { stripePort: e.SANDBOX_STRIPE_PORT, hubspotPort: e.SANDBOX_HUBSPOT_PORT, salesforcePort: e.SANDBOX_SALESFORCE_PORT },
    demo: !e.STRIPE_API_KEY && !e.HUBSPOT_ACCESS_TOKEN && !e.SALESFORCE_ACCESS_TOKEN,
  };
}
