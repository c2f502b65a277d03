import js from '@eslint/js';
import globals from 'globals';

export default [
  {ignores: ['**/dist/**', 'node_modules/**', 'beam-theme/**']},
  js.configs.recommended,
  {
    files: ['checkout-rewards/**/*.{js,jsx}', 'customer-account-rewards/**/*.{js,jsx}'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      parserOptions: {ecmaFeatures: {jsx: true}},
      globals: {...globals.browser, shopify: 'readonly'},
    },
    rules: {
      'no-unused-vars': ['error', {varsIgnorePattern: '^[A-Z]', argsIgnorePattern: '^_'}],
      eqeqeq: ['error', 'smart'],
      'no-console': 'error',
    },
  },
  {
    files: ['*/tests/**/*.{js,jsx}'],
    languageOptions: {globals: {...globals.node}},
  },
  {
    files: ['*.mjs'],
    languageOptions: {globals: {...globals.node}},
    rules: {'no-console': 'off'},
  },
];
