/** Acceptance: no response or log line carries RUNWARE_API_KEY, SIGNING_SECRET, R2 secrets or signatures. */
import { readFileSync } from 'node:fs'
import { describe, expect, inject, it } from 'vitest'
import { TEST_SECRETS } from '../secrets.ts'
import { fetchImage, gateway, inference, postV1, waitFor } from './helpers.ts'

describe('secrets in logs', () => {
  it('the gateway’s own output never contains a secret or a signature', async () => {
    const ok = await postV1(inference({ numberResults: 2 }))
    const imageURL = String(ok.json.data?.[0]?.imageURL)
    expect((await fetchImage(imageURL)).status).toBe(200)
    await postV1(inference({ width: 1 }))
    await postV1('garbage', 'not-a-key')
    await fetch(`${gateway()}/files/images/x/y/0.jpg?exp=1&sig=forged`)
    const async = inference({ deliveryMethod: 'async' })
    await postV1(async)
    await waitFor(async () =>
      (await postV1([{ taskType: 'getResponse', taskUUID: async.taskUUID }])).json.data?.[0]?.status === 'success' ? true : undefined,
    )

    const log = readFileSync(inject('gatewayLog'), 'utf8')
    expect(log).toContain('/v1') // the log is really the gateway's request log
    for (const [name, value] of Object.entries(TEST_SECRETS)) {
      for (const secret of value.split(',')) expect(log, name).not.toContain(secret)
    }
    const signature = new URL(imageURL).searchParams.get('sig') ?? ''
    expect(signature.length).toBeGreaterThan(20)
    expect(log).not.toContain(signature)
    expect(log).not.toMatch(/token=[A-Za-z0-9_-]{20,}/)
  })
})
