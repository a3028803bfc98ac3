/** Starts the Runware emulator for the workerd tests; the Worker reaches it over real HTTP. */
import type { TestProject } from 'vitest/node'
import { startEmulator } from '../../emulator/server.ts'
import { TEST_SECRETS } from '../secrets.ts'
import { startReceiver } from '../support/receiver.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    emulatorPort: number
    receiverUrl: string
  }
}

export default async function setup(project: TestProject) {
  // Here Runware's webhooks cannot reach the Worker (it has no port under the vitest plugin), so
  // these tests play the other documented reading: a sync reply carries the results, and failures
  // are webhooked too. The strict default (acknowledge, webhook only) runs end to end under
  // `wrangler dev` (test/e2e), and test/workers/tasks/sync-wait.test.ts plays Runware's webhook by hand.
  const emulator = await startEmulator({
    apiKey: TEST_SECRETS.RUNWARE_API_KEY,
    quiet: true,
    readings: { syncWithWebhook: 'wait', webhookErrors: true, nsfwRate: 0 },
  })
  const receiver = await startReceiver()
  project.provide('emulatorPort', emulator.port)
  project.provide('receiverUrl', receiver.url)
  return async () => {
    await emulator.close()
    await receiver.close()
  }
}
