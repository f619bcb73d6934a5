import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../support/harness.js';

const silent = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

// The worker bundles workflows at start-up; doing it here makes a forbidden import fail CI instead.
describe('workflow bundle', () => {
  it('bundles every workflow without Node built-ins or I/O libraries', async () => {
    const bundle = await bundleWorkflowCode({ workflowsPath: path.join(projectRoot, 'workflows/index.ts'), logger: silent });
    expect(bundle.code).toContain('diagnosticsWorkflow');
    expect(bundle.code.length).toBeGreaterThan(10_000);
  });

  it('refuses a workflow that imports a Node built-in', async () => {
    const errors: string[] = [];
    const logger = { ...silent, error: (message: string) => void errors.push(message) };
    await expect(
      bundleWorkflowCode({ workflowsPath: path.join(projectRoot, 'test/fixtures/forbidden-import-workflow.ts'), logger }),
    ).rejects.toThrow(/Webpack finished with errors/);
    expect(errors.join('\n')).toMatch(/node:fs/);
  });
});

describe('workflow lint rules', () => {
  it('reject Node built-ins, I/O libraries and activity implementations in workflows/, and allow activity types', async () => {
    const { ESLint } = await import('eslint');
    const { randomBytes } = await import('node:crypto');
    const { writeFile, rm } = await import('node:fs/promises');
    // Typed linting needs a real file inside the project; a random name keeps concurrent runs apart.
    const probe = path.join(projectRoot, 'workflows', `lint-probe-${randomBytes(4).toString('hex')}.ts`);
    await writeFile(probe, [
      "import { readFileSync } from 'node:fs';",
      "import { Kysely } from 'kysely';",
      "import Stripe from 'stripe';",
      "import { createActivities } from '../activities/index.js';",
      "import type { Activities } from '../activities/index.js';",
      'export const used = [readFileSync, Kysely, Stripe, createActivities];',
      'export type A = Activities;',
      '',
    ].join('\n'));
    try {
      const [result] = await new ESLint({ cwd: projectRoot }).lintFiles([probe]);
      const restricted = (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.line);
      expect(restricted).toEqual([1, 2, 3, 4]);
    } finally {
      await rm(probe, { force: true });
    }
  });
});
