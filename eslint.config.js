// `npm run lint`: ESLint with typescript-eslint's type-aware rules (the type checker sees what a
// syntax-only linter cannot: a promise nobody awaits, an `any` leaking through, a method passed
// without its object). Run by `npm test` and by every landing.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'cdk.out/', '.kitewatch/', '.venv/', 'bench/results/', 'reports/', 'scratch/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['vitest.config.ts'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // Explicit, though the preset has them: the reason this linter exists.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // Ports are promise-returning interfaces; an `async` implementation that does not await
      // (an in-memory fake, a no-op flush) is the plainest way to honour them, and turns a throw
      // into a rejection as callers expect.
      '@typescript-eslint/require-await': 'off',
      // A stylistic rule, and its fix is not always sound: it removed an assertion that narrowed a
      // `let` for the lines below, which tsc then refused.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // Kitewatch matches control characters on purpose: it strips them from untrusted text.
      'no-control-regex': 'off',
      // `const { secret: _secret, ...rest } = x` is how a key is dropped from a copy.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true, argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Tests write numbers past 2^53 on purpose: what a user could put in a pattern or a payload.
    files: ['test/**'],
    rules: { 'no-loss-of-precision': 'off' },
  },
  {
    // Plain JavaScript: the entry points that must run on any Node, and this file. Not in tsconfig.
    files: ['**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: 'readonly' } },
  },
);
