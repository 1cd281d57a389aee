// ESLint flat config: type-aware TypeScript rules plus Nx module boundaries.
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

const nodeBuiltins = ['node:*', 'fs', 'fs/*', 'path', 'os', 'crypto', 'child_process', 'net', 'http', 'https', 'worker_threads', 'process', 'buffer', 'stream', 'url', 'util', 'events'];

export default tseslint.config(
  {
    ignores: ['**/dist/**', '**/node_modules/**', '**/build/**', 'libs/proto/src/gen/**', '**/*.js', '**/*.mjs', '**/*.cjs', '.nx/**'],
  },
  ...nx.configs['flat/base'],
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*/*/vitest.config.ts', 'test/vitest.config.ts', 'vitest.shared.ts'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
  },
  {
    files: ['**/*.ts', '**/*.tsx'],
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: [
            // Libraries never import apps; apps never import apps.
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:contract', 'type:core', 'type:kernel', 'type:test-util'] },
            { sourceTag: 'type:contract', onlyDependOnLibsWithTags: ['type:contract'] },
            { sourceTag: 'type:core', onlyDependOnLibsWithTags: ['type:core'] },
            { sourceTag: 'type:kernel', onlyDependOnLibsWithTags: ['type:core'] },
            { sourceTag: 'type:test-util', onlyDependOnLibsWithTags: ['type:contract', 'type:core'] },
            // End-to-end tests drive public surfaces only: no app internals.
            { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['type:contract', 'type:core', 'type:test-util'] },
            // libs/policy and libs/mm-sim also run in the browser and in the simulator: no Node APIs.
            { sourceTag: 'platform:pure', onlyDependOnLibsWithTags: ['platform:pure'], bannedExternalImports: nodeBuiltins },
          ],
        },
      ],
    },
  },
  {
    // The pure libraries run in the browser and inside the simulator: no Node built-ins.
    // (Nx's bannedExternalImports does not see `node:` specifiers, so ban them here too.)
    files: ['libs/policy/src/**/*.ts', 'libs/mm-sim/src/**/*.ts', 'libs/judge/src/**/*.ts'],
    ignores: ['**/*.bench.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: nodeBuiltins, message: 'libs/policy and libs/mm-sim are platform:pure: no Node APIs.' }] }],
    },
  },
  {
    // Test-runner configs share the workspace's vitest settings by relative import.
    files: ['**/vitest.config.ts'],
    rules: { '@nx/enforce-module-boundaries': 'off' },
  },
  {
    files: ['**/*.spec.ts', '**/*.bench.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
);
