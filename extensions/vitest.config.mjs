import {defineConfig} from 'vitest/config';

export default defineConfig({
  oxc: {jsx: {runtime: 'automatic', importSource: 'preact'}},
  test: {
    include: ['checkout-rewards/tests/**/*.test.{js,jsx}', 'customer-account-rewards/tests/**/*.test.{js,jsx}'],
    environment: 'node',
  },
});
