/** Acceptance: the fault-injection soak, small enough for CI, with every zero asserted. */
import { describe, expect, inject, it } from 'vitest'
import { runSoak } from '../../scripts/soak-lib.ts'
import { KEY_B } from '../secrets.ts'
import { emulator, gateway } from './helpers.ts'
import { E2E_RECONCILE_AFTER_SECONDS } from './global-setup.ts'

describe('soak under faults', () => {
  it(
    '120 tasks, a fifth over flaky WebSockets: nothing lost, nothing generated twice or pushed twice, every result has its image, every failure its reason',
    { timeout: 240_000 },
    async () => {
      const report = await runSoak({
        gatewayUrl: gateway(),
        emulatorUrl: emulator(),
        apiKeys: [KEY_B],
        tasks: 120,
        concurrency: 8,
        reconcileAfterSeconds: E2E_RECONCILE_AFTER_SECONDS,
        receiverUrl: inject('receiverUrl'),
        log: (line) => console.log(`soak: ${line}`),
      })
      expect(report.tasks).toBe(120)
      expect(report.lost).toBe(0)
      expect(report.duplicateGenerations).toBe(0)
      expect(report.resultsWithoutImage).toBe(0)
      expect(report.failedWithoutReason).toBe(0)
      expect(report.eventsUndelivered).toBe(0)
      expect(report.succeeded + report.failed).toBe(120)
      // A fifth of the tasks went over WebSocket clients that dropped their connections at random.
      expect(report.socketTasks).toBe(24)
      expect(report.socketDisconnects).toBeGreaterThan(0)
      expect(report.pushedDuplicates).toBe(0)
    },
  )
})
