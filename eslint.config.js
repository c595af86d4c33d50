// Lint: floating promises are errors everywhere, and workflow code may not
// import Node built-ins or I/O libraries (workflows must stay deterministic).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['node_modules/**', 'web/**', '.data/**', '.tools/**', '.test-data*/**', '.scratch/**', 'test/artifacts/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    // Workflows run these contracts (signals, updates, queries, ids, status values) too: they stay as deterministic as workflow code.
    files: ['workflows/**/*.ts', 'core/*/contract.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [...nodeBuiltins, 'pg', 'knex', 'node-vault', '@octokit/rest', '@aws-sdk/client-s3'].map((name) => ({
          name, message: 'Workflow code must be deterministic: do I/O in an activity.',
        })),
        // A context's contract (core/<context>/contract.ts) is shared by workflows, activities, the API and workers.
        patterns: [
          { group: ['@aws-sdk/*'], message: 'Workflow code must be deterministic: do I/O in an activity.' },
          { regex: '^(\\.\\./)+core/(?![a-z-]+/contract$)', message: 'Workflows import only types from core, and core/<context>/contract.ts.', allowTypeImports: true },
        ],
      }],
    },
  },
);
