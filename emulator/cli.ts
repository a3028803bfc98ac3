/**
 * Runs the emulator from a shell: `tsx emulator/cli.ts --port 9000 --api-key KEY`.
 * Flags win over the environment (EMULATOR_PORT, RUNWARE_API_KEY, EMULATOR_HOST).
 */
import { parseArgs } from 'node:util'
import { startEmulator } from './server.ts'

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    'api-key': { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
})

const apiKey = values['api-key'] ?? process.env.RUNWARE_API_KEY
const portText = values.port ?? process.env.EMULATOR_PORT ?? '9000'
const port = Number(portText)
if (!apiKey) {
  console.error('emulator: an API key is required (--api-key or RUNWARE_API_KEY)')
  process.exit(2)
}
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`emulator: invalid port '${portText}'`)
  process.exit(2)
}

const host = values.host ?? process.env.EMULATOR_HOST
const emulator = await startEmulator({ apiKey, port, quiet: values.quiet, ...(host ? { host } : {}) })
console.log(`Runware emulator listening on ${emulator.url} (API: ${emulator.url}/v1)`)

let stopping = false
const stop = (): void => {
  if (stopping) return
  stopping = true
  emulator.close().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error('emulator: error while closing', error)
      process.exit(1)
    },
  )
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
