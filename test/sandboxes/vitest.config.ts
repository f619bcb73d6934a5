import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Sandbox and unit runs without Temporal or Postgres: npx vitest run --config test/sandboxes/vitest.config.ts <filter>
export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['test/sandboxes/**/*.test.ts', 'test/unit/**/*.test.ts'],
    testTimeout: 120_000,
  },
});
