import { cloudflareTest } from '@cloudflare/vitest-plugin'
import { defineConfig } from 'vitest/config'
import { TEST_SECRETS } from './test/secrets.ts'

export default defineConfig({
  test: {
    // The JSON report is where .ci/run takes vitest's own pass/fail counts from.
    reporters: ['default', ['json', { outputFile: '.vitest/results.json' }]],
    projects: [
      {
        // Unit and integration tests inside workerd, with real local KV and R2.
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: './wrangler.jsonc' },
            miniflare: {
              bindings: {
                ...TEST_SECRETS,
                RUNWARE_API_URL: `http://127.0.0.1:${inject<number>('emulatorPort')}/v1`,
                // Unreachable on purpose: Runware's uploads fail here, so results are copied from imageURL.
                PUBLIC_BASE_URL: 'http://127.0.0.1:1',
                ENVIRONMENT: 'development',
                // Client webhook retries in seconds, not minutes, so tests can watch them.
                WEBHOOK_RETRY_BASE_SECONDS: '1',
              },
            },
          })),
        ],
        test: {
          name: 'workers',
          include: ['test/workers/**/*.test.ts'],
          // The emulator renders real 2K images; on a 2-core machine under parallel load that takes a while.
          testTimeout: 30_000,
          globalSetup: ['./test/workers/global-setup.ts'],
        },
      },
      {
        // The emulator and the end-to-end flows: the gateway under `wrangler dev`, over real HTTP.
        test: {
          name: 'node',
          environment: 'node',
          include: ['test/node/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          globalSetup: ['./test/e2e/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
})
