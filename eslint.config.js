// @ts-check
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

const nodeBuiltins = [
  'assert', 'async_hooks', 'buffer', 'child_process', 'cluster', 'crypto', 'dgram', 'dns', 'events', 'fs',
  'fs/promises', 'http', 'http2', 'https', 'net', 'os', 'path', 'perf_hooks', 'process', 'readline', 'stream',
  'timers', 'tls', 'url', 'util', 'v8', 'vm', 'worker_threads', 'zlib',
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.tools/**', '.data/**', 'eslint.config.js'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: { 'import-x/ignore': ['node_modules'] },
    rules: {
      // An un-awaited activity call or client call is a bug, not a style choice.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'separate-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no I/O, no Node built-ins, and
    // activities only as types (the worker wires the implementations).
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [
          ...nodeBuiltins.map((name) => ({ name, message: 'Workflows must be deterministic: do I/O in an activity.' })),
          ...['pg', 'kysely', 'stripe', 'hono', 'jsforce', '@hubspot/api-client', '@temporalio/activity', '@temporalio/client', '@temporalio/worker']
            .map((name) => ({ name, message: 'I/O libraries belong in activities, not workflows.' })),
        ],
        patterns: [
          { group: ['node:*'], message: 'Workflows must be deterministic: no Node built-ins.' },
          { group: ['pg/*', 'kysely/*', 'stripe/*', 'hono/*', 'jsforce/*', '@hono/*', '@hubspot/*', '@electric-sql/*'], message: 'I/O libraries belong in activities.' },
          { group: ['**/db/**', '**/api/**', '**/workers/**', '**/config/**'], message: 'Workflows may not reach into db/, api/, workers/ or config/.' },
          { group: ['**/activities', '**/activities/**'], allowTypeImports: true, message: 'Import activities by type only: import type * as activities from ...' },
        ],
      }],
    },
  },
);
