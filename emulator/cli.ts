/**
 * Runs the emulator from a shell: `tsx emulator/cli.ts --port 9000 --api-key KEY`.
 * Flags win over the environment (EMULATOR_PORT, RUNWARE_API_KEY, EMULATOR_HOST).
 * `--reading name=value` (repeatable) picks another reading of what Runware's docs leave open
 * (emulator/readings.ts), e.g. `--reading syncWithWebhook=wait --reading webhookErrors=true`.
 */
import { parseArgs } from 'node:util'
import { DEFAULT_READINGS, readingsError } from './readings.ts'
import { startEmulator } from './server.ts'

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    'api-key': { type: 'string' },
    quiet: { type: 'boolean', default: false },
    reading: { type: 'string', multiple: true },
  },
})

/** `name=value` pairs as readings: numbers and booleans as such, the rest as strings. */
function parseReadings(pairs: string[]): Record<string, unknown> {
  const readings: Record<string, unknown> = {}
  for (const pair of pairs) {
    const [name, value = ''] = pair.split('=', 2)
    readings[name ?? ''] =
      value === 'true' ? true : value === 'false' ? false : value !== '' && !Number.isNaN(Number(value)) ? Number(value) : value
  }
  const unknown = Object.keys(readings).filter((name) => !(name in DEFAULT_READINGS))
  const bad = unknown.length ? `unknown reading ${unknown.join(', ')}` : readingsError(readings)
  if (bad) {
    console.error(`emulator: ${bad}`)
    process.exit(2)
  }
  return readings
}

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
const readings = parseReadings(values.reading ?? [])
const emulator = await startEmulator({ apiKey, port, quiet: values.quiet, readings, ...(host ? { host } : {}) })
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
