import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { SandboxOptions } from '../sandboxes/start-all.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export interface SandboxUrls {
  stripe: string;
  hubspot: string;
  salesforce: string;
  /** The benchmarks' CRM seeding endpoint (scripts/bench-crm-seed.ts); served by the sandbox process only. */
  crmSeed?: string;
}

export class SandboxProcessError extends Error {
  override name = 'SandboxProcessError';
}

/** Starts scripts/bench-sandboxes-process.ts and waits for its URLs. */
export async function startSandboxProcess(options: SandboxOptions): Promise<{ urls: SandboxUrls; close(): void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'bench-sandboxes-process.ts'), JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const urls = await new Promise<SandboxUrls>((resolve, reject) => {
    lines.once('line', (line) => resolve(JSON.parse(line) as SandboxUrls));
    child.once('exit', (code) => reject(new SandboxProcessError(`the sandbox process exited with ${code}`)));
  });
  return { urls, close: () => void child.kill('SIGTERM') };
}
