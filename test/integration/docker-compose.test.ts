import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../config/index.js';
import { projectRoot } from '../support/harness.js';

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, string>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
}

// No Docker engine here, so the topology is checked by reading it: every service the app needs is
// defined and wired to the others.
const compose = parse(readFileSync(path.join(projectRoot, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
};
const services = compose.services;
const service = (name: string): Service => {
  const s = services[name];
  if (!s) throw new Error(`docker-compose.yml has no ${name} service`);
  return s;
};

describe('docker-compose.yml', () => {
  it('defines PostgreSQL, Temporal on PostgreSQL, the Temporal UI, the API and the worker', () => {
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['postgres', 'temporal', 'temporal-ui', 'api', 'worker']));
    const temporal = service('temporal');
    expect(temporal.environment?.DB).toMatch(/^postgres/);
    expect(temporal.environment?.POSTGRES_SEEDS).toBe('postgres');
    expect(Object.keys(temporal.depends_on ?? {})).toContain('postgres');
    expect(service('temporal-ui').environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
  });

  it.each(['api', 'worker'])('%s is built from the Dockerfile and wired to Postgres and Temporal', (name) => {
    const s = service(name);
    expect(s.build).toBeDefined();
    const env = s.environment ?? {};
    expect(new URL(env.DATABASE_URL ?? '').hostname).toBe('postgres');
    expect(env.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(Object.keys(s.depends_on ?? {})).toEqual(expect.arrayContaining(['postgres', 'temporal']));
    // The environment the container gets must pass the service's own config validation.
    expect(() => loadConfig(env)).not.toThrow();
    const command = Array.isArray(s.command) ? s.command : [];
    const entry = command.find((part) => part.startsWith('dist/')) ?? '';
    expect(existsSync(path.join(projectRoot, entry.replace(/^dist\//, '').replace(/\.js$/, '.ts')))).toBe(true);
  });

  it('publishes the API on 3000 and Temporal on 7233', () => {
    expect(service('api').ports).toContain('3000:3000');
    expect(service('api').environment?.PORT).toBe('3000');
    expect(service('temporal').ports).toContain('7233:7233');
  });

  it('registers the search attributes the workflows use', async () => {
    const { ALL_SEARCH_ATTRIBUTES } = await import('../../domain/temporal-names.js');
    const job = JSON.stringify(service('temporal-search-attributes').command);
    for (const key of ALL_SEARCH_ATTRIBUTES) expect(job).toContain(key.name);
  });

  it('has a Dockerfile that builds and runs the compiled entry points', () => {
    const dockerfile = readFileSync(path.join(projectRoot, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/npm run build/);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
  });
});
