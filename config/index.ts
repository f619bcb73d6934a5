import { z } from 'zod';

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
  CRM_RATE_LIMIT_PER_SECOND: positiveNumber(19),
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
  crm: { rateLimitPerSecond: number };
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
    crm: { rateLimitPerSecond: e.CRM_RATE_LIMIT_PER_SECOND },
  };
}
