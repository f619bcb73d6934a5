import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';

// Part of `npm run build`: production workers load this prebuilt bundle instead of running webpack at start-up.
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const { code } = await bundleWorkflowCode({ workflowsPath: path.join(root, 'workflows/index.js') });
await writeFile(path.join(root, 'workflow-bundle.js'), code);
console.log(`wrote ${path.join(root, 'workflow-bundle.js')} (${(code.length / 1024).toFixed(0)} KiB)`);
