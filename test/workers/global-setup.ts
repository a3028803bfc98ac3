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
  const emulator = await startEmulator({ apiKey: TEST_SECRETS.RUNWARE_API_KEY, quiet: true })
  const receiver = await startReceiver()
  project.provide('emulatorPort', emulator.port)
  project.provide('receiverUrl', receiver.url)
  return async () => {
    await emulator.close()
    await receiver.close()
  }
}
