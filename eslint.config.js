import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const APP_BY_PATH = { regex: '^(\\.\\./)+apps/', message: "Import an app through its package's exports (@billing/<app>/…)." };
const TEST_ONLY = [
  '@billing/testing',
  '@billing/testing/*',
  '@billing/stripe-simulator',
  '@billing/stripe-simulator/*',
  'vitest',
  'fast-check',
];
const APPS = [
  '@billing/ingress',
  '@billing/ingress/*',
  '@billing/worker',
  '@billing/worker/*',
  '@billing/dashboard',
  '@billing/dashboard/*',
];
const SERVERS = ['fastify', '@fastify/*', '@bull-board/*'];

// The dependency direction: apps → packages; billing (the domain) knows no queue engine, HTTP or
// metrics; db and runtime know no other package of ours.
const BOUNDARIES = {
  'packages/billing': [
    ...TEST_ONLY,
    ...APPS,
    ...SERVERS,
    'bullmq',
    'ioredis',
    'pg',
    'prom-client',
    'pino',
    '@billing/runtime',
    '@billing/runtime/*',
  ],
  'packages/db': [...TEST_ONLY, ...APPS, ...SERVERS, '@billing/*', 'bullmq', 'ioredis'],
  'packages/runtime': [...TEST_ONLY, ...APPS, ...SERVERS, '@billing/*', 'bullmq', 'ioredis', 'postgres', 'drizzle-orm'],
  'packages/queue': [
    ...TEST_ONLY,
    ...APPS,
    ...SERVERS,
    '@billing/billing',
    '@billing/billing/*',
    '@billing/db',
    '@billing/db/*',
    'drizzle-orm',
    'postgres',
  ],
  'packages/local-postgres': [...TEST_ONLY, ...APPS, ...SERVERS, '@billing/*', 'bullmq', 'ioredis'],
  'packages/stripe-simulator': [
    '@billing/testing',
    '@billing/testing/*',
    'vitest',
    ...APPS,
    ...SERVERS,
    '@billing/db',
    '@billing/db/*',
    '@billing/billing',
    '@billing/billing/*',
    'bullmq',
    'postgres',
  ],
  // Host applications install it: nothing of ours, only what it declares.
  'packages/client': [...TEST_ONLY, ...APPS, ...SERVERS, '@billing/*', 'bullmq', 'ioredis', 'drizzle-orm'],
  'packages/reconcile': [...TEST_ONLY, ...APPS, ...SERVERS, 'bullmq', 'ioredis'],
  'apps/ingress': [
    ...TEST_ONLY,
    '@billing/worker',
    '@billing/worker/*',
    '@billing/dashboard',
    '@billing/dashboard/*',
    '@billing/db',
    '@billing/db/*',
    'postgres',
    'drizzle-orm',
  ],
  'apps/worker': [...TEST_ONLY, '@billing/ingress', '@billing/ingress/*', '@billing/dashboard', '@billing/dashboard/*', ...SERVERS],
  'apps/dashboard': [
    ...TEST_ONLY,
    '@billing/ingress',
    '@billing/ingress/*',
    '@billing/worker',
    '@billing/worker/*',
    '@billing/billing',
    '@billing/billing/*',
    '@billing/db',
    '@billing/db/*',
  ],
};

/** `name` is that module exactly, `name/*` any of its subpaths (relative imports never match). */
function moduleRegex(names) {
  const escape = (text) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  return `^(${names.map((name) => (name.endsWith('/*') ? `${escape(name.slice(0, -2))}/.+` : escape(name))).join('|')})$`;
}

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'drizzle/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // Type-aware: the product's promises (200 only after the queue acknowledged, a job completes
    // only after COMMIT) are chains of awaits; a dropped or misused promise breaks them silently.
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
    },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // Env is read once per app, in env.ts (validated); nowhere else.
    files: ['apps/*/src/**/*.ts', 'packages/*/src/**/*.ts'],
    ignores: ['**/env.ts', '**/*.test.ts', 'packages/testing/**'],
    rules: {
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Read environment variables in env.ts only.' }],
    },
  },
  {
    // Outside apps/, an app is reached through its package's exports (@billing/<app>/…), never by path.
    files: ['packages/**/*.ts', 'tests/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [APP_BY_PATH] }] },
  },
  // What each package's source must not import (its README says why). Tests and fixtures may.
  ...Object.entries(BOUNDARIES).map(([dir, group]) => ({
    files: [`${dir}/src/**/*.ts`],
    ignores: ['**/*.test.ts', '**/*.fixture.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [APP_BY_PATH, { regex: moduleRegex(group), message: `${dir} must not import this (see ${dir}/README.md).` }] },
      ],
    },
  })),
);
