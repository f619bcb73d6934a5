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
