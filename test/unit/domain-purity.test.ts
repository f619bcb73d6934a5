// domain/ is imported by Temporal workflow code, which must be deterministic and free of I/O. This guards
// the rule at the source level so a stray import or clock read fails here, not in a replaying worker.
import { builtinModules } from 'node:module';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const domainDir = join(import.meta.dirname, '..', '..', 'domain');
const files = readdirSync(domainDir).filter((name) => name.endsWith('.ts'));

// I/O libraries and Temporal's non-workflow packages; `stripe` is allowed for its types only.
const FORBIDDEN_PACKAGES = ['pg', 'kysely', 'hono', 'jsforce', '@temporalio/activity', '@temporalio/client', '@temporalio/worker'];
const FORBIDDEN_SCOPES = ['@hono/', '@hubspot/', '@electric-sql/', 'pg/', 'kysely/', 'hono/', 'jsforce/', 'stripe/'];

function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"])\/\/.*$/gm, '$1');
}

function imports(source: string): { specifier: string; typeOnly: boolean }[] {
  const pattern = /^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm;
  return [...source.matchAll(pattern)].map((match) => ({ specifier: match[3] ?? '', typeOnly: match[2] !== undefined }));
}

function violation(specifier: string, typeOnly: boolean): string | null {
  if (specifier.startsWith('node:') || builtinModules.includes(specifier)) return 'Node built-in';
  if (specifier === 'stripe') return typeOnly ? null : 'Stripe runtime (use `import type Stripe from \'stripe\'`)';
  if (FORBIDDEN_PACKAGES.includes(specifier) || FORBIDDEN_SCOPES.some((scope) => specifier.startsWith(scope))) return 'I/O library';
  if (specifier.startsWith('../')) return 'reaches outside domain/';
  if (specifier.startsWith('./') && !specifier.endsWith('.js')) return 'ESM relative imports end in .js';
  return null;
}

describe('domain purity', () => {
  it('has source files to check', () => {
    expect(files).toEqual(expect.arrayContaining(['money.ts', 'mrr.ts', 'billing-snapshot.ts', 'crm-fields.ts', 'payment-aggregates.ts']));
  });

  it.each(files)('%s imports no I/O, Node built-ins or Stripe runtime', (file) => {
    const source = stripComments(readFileSync(join(domainDir, file), 'utf8'));
    for (const { specifier, typeOnly } of imports(source)) {
      expect(violation(specifier, typeOnly), `${file} imports ${specifier}`).toBeNull();
    }
  });

  it.each(files)('%s reads no clock, randomness or environment', (file) => {
    const source = stripComments(readFileSync(join(domainDir, file), 'utf8'));
    for (const forbidden of [/Date\.now\s*\(/, /new Date\(\s*\)/, /Math\.random\s*\(/, /\bprocess\./, /\brequire\s*\(/, /\bimport\s*\(/, /performance\.now/, /crypto\./]) {
      expect(forbidden.test(source), `${file} matches ${String(forbidden)}`).toBe(false);
    }
  });

  it.each<[string, string | null]>([
    ["import { readFileSync } from 'node:fs';", 'Node built-in'],
    ["import { join } from 'path';", 'Node built-in'],
    ["import Stripe from 'stripe';", 'Stripe runtime (use `import type Stripe from \'stripe\'`)'],
    ["import type Stripe from 'stripe';", null],
    ["import { Kysely } from 'kysely';", 'I/O library'],
    ["import { Client } from '@hubspot/api-client';", 'I/O library'],
    ["import { db } from '../db/database.js';", 'reaches outside domain/'],
    ["import { toIsoDate } from './time.js';", null],
  ])('the check itself classifies %s', (line, expected) => {
    const [parsed] = imports(line);
    expect(parsed).toBeDefined();
    expect(violation(parsed?.specifier ?? '', parsed?.typeOnly ?? false)).toBe(expected);
  });

  it('ignores comments that mention forbidden calls', () => {
    expect(stripComments('// Date.now() is not used\n/* Math.random() */ const url = "https://x";')).toBe('\n const url = "https://x";');
  });
});
