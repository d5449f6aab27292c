// ESLint, flat config: the recommended rules of JavaScript, TypeScript (type-aware: it knows which
// calls return promises) and Vue 3. Layout is Prettier's alone (`npm run format`):
// eslint-config-prettier turns off every rule it would fight with.
import js from '@eslint/js'
import prettier from 'eslint-config-prettier/flat'
import vue from 'eslint-plugin-vue'
import { defineConfig, globalIgnores } from 'eslint/config'
import tseslint from 'typescript-eslint'

export default defineConfig(
  globalIgnores(['dist/', 'node_modules/']),
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  vue.configs['flat/recommended'],
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
        extraFileExtensions: ['.vue'],
      },
    },
  },
  {
    files: ['**/*.vue'],
    languageOptions: { parserOptions: { parser: tseslint.parser } },
    rules: {
      // TypeScript checks names (vue-tsc); ESLint's scope analysis does not know the browser's
      // globals in a .vue file (typescript-eslint turns it off for .ts files for the same reason)
      'no-undef': 'off',
    },
  },
  {
    // the build's and the linter's own configuration (this directory's files), and the
    // generator script: outside the tsconfig (the application's), so checked without types
    files: ['*.js', '*.ts', 'scripts/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    files: ['scripts/*.mjs'],
    languageOptions: { globals: { process: 'readonly', URL: 'readonly' } }, // Node's, which they use
  },
  prettier,
)
