/** Starts the Runware emulator for the workerd tests; the Worker reaches it over real HTTP. */
import type { TestProject } from 'vitest/node'
import { startEmulator } from '../../emulator/server.ts'
import { TEST_SECRETS } from '../secrets.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    emulatorPort: number
  }
}

export default async function setup(project: TestProject) {
  const emulator = await startEmulator({ apiKey: TEST_SECRETS.RUNWARE_API_KEY, quiet: true })
  project.provide('emulatorPort', emulator.port)
  return () => emulator.close()
}
