/**
 * `npm run soak [-- --tasks N]`: the fault-injection soak against a fresh local stack
 * (gateway under wrangler dev, emulator with the fault table on). Prints one summary line.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { runSoak } from './soak-lib.ts'
import { startReceiver } from '../test/support/receiver.ts'
import { startStack } from './stack.ts'

const { values } = parseArgs({ options: { tasks: { type: 'string', default: '1000' }, concurrency: { type: 'string', default: '16' } } })
// Several clients, each with its own key: one key alone would meet its rate limit first.
const apiKeys = Array.from({ length: 8 }, () => `ie_soak_${crypto.randomUUID().replaceAll('-', '')}`)
const dir = mkdtempSync(join(tmpdir(), 'imagine-edge-soak-'))
const reconcileAfterSeconds = 10
const stack = await startStack({
  secrets: {
    API_KEYS: apiKeys.join(','),
    SIGNING_SECRET: crypto.randomUUID() + crypto.randomUUID(),
    RUNWARE_API_KEY: `soak_${crypto.randomUUID()}`,
  },
  persistTo: join(dir, 'state'),
  logTo: join(dir, 'gateway.log'),
  vars: { RECONCILE_AFTER_SECONDS: String(reconcileAfterSeconds), WEBHOOK_RETRY_BASE_SECONDS: '1', WEBHOOK_RETRY_MAX_SECONDS: '4' },
})
// The clients' webhook receiver, failing 30 % of attempts.
const receiver = await startReceiver()
console.log(`soak: gateway ${stack.gatewayUrl}, emulator ${stack.emulator.url}, log ${join(dir, 'gateway.log')}`)
try {
  const report = await runSoak({
    gatewayUrl: stack.gatewayUrl,
    emulatorUrl: stack.emulator.url,
    apiKeys,
    tasks: Number(values.tasks),
    concurrency: Number(values.concurrency),
    reconcileAfterSeconds,
    receiverUrl: receiver.url,
    log: (line) => console.log(`soak: ${line}`),
  })
  console.log(report.line)
  const clean =
    report.lost === 0 &&
    report.duplicateGenerations === 0 &&
    report.resultsWithoutImage === 0 &&
    report.failedWithoutReason === 0 &&
    report.eventsUndelivered === 0 &&
    report.pushedDuplicates === 0
  process.exitCode = clean ? 0 : 1
} finally {
  await stack.stop()
  await receiver.close()
}
