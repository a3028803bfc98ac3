// Lint rules from STYLE.md: no `any`, no non-null assertions in src, no floating promises.
import tseslint from 'typescript-eslint'

export default tseslint.config(
  {
    ignores: [
      'node_modules',
      '.wrangler',
      'out',
      '.vitest',
      'worker-configuration.d.ts',
      'public/vendor',
      'test/artifacts',
      'bench/.out',
      'reports',
      '.stryker-tmp',
    ],
  },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { project: ['./tsconfig.json', './tsconfig.node.json'], tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'error',
      // Hono's `c.var` copies every variable into a new object on each access; `c.get` reads one.
      'no-restricted-syntax': [
        'error',
        { selector: "MemberExpression[property.name='var']", message: "Use c.get('name'): c.var copies all variables on every access." },
      ],
    },
  },
)
