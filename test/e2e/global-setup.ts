/** Starts the emulator and the gateway under `wrangler dev` for the end-to-end tests. */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'
import { startStack } from '../../scripts/stack.ts'
import { TEST_SECRETS } from '../secrets.ts'
import { startReceiver } from '../support/receiver.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    gatewayUrl: string
    emulatorUrl: string
    gatewayLog: string
    receiverUrl: string
  }
}

/** Low, so the soak test can run the reconciler on tasks a few seconds old. */
export const E2E_RECONCILE_AFTER_SECONDS = 10

export default async function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), 'imagine-edge-e2e-'))
  const gatewayLog = join(dir, 'gateway.log')
  const stack = await startStack({
    secrets: TEST_SECRETS,
    persistTo: join(dir, 'state'),
    logTo: gatewayLog,
    vars: { RECONCILE_AFTER_SECONDS: String(E2E_RECONCILE_AFTER_SECONDS), WEBHOOK_RETRY_BASE_SECONDS: '1', WEBHOOK_RETRY_MAX_SECONDS: '4' },
  })
  const receiver = await startReceiver()
  project.provide('gatewayUrl', stack.gatewayUrl)
  project.provide('emulatorUrl', stack.emulator.url)
  project.provide('gatewayLog', gatewayLog)
  project.provide('receiverUrl', receiver.url)
  return async () => {
    await stack.stop()
    await receiver.close()
  }
}
