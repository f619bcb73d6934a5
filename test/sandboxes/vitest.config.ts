import { defineConfig } from 'vitest/config';

// Sandbox-only runs (no Temporal or Postgres needed): npx vitest run --config test/sandboxes/vitest.config.ts
export default defineConfig({
  test: {
    root: '../..',
    include: ['test/sandboxes/**/*.test.ts', 'test/unit/**/*.test.ts'],
    testTimeout: 120_000,
  },
});
