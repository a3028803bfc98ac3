/** Acceptance: with Runware's webhooks duplicated, clients see one stable event id per result. */
import { Webhook } from 'standardwebhooks'
import { describe, expect, inject, it } from 'vitest'
import { KEY_A } from '../secrets.ts'
import { gateway, inference, postV1, setFault, waitFor } from './helpers.ts'

interface Received {
  headers: Record<string, string>
  body: string
  answered: number
}

describe('client webhooks end to end', () => {
  it('duplicated Runware webhooks: each event id arrives, verifiable, and distinct ids equal the results', async () => {
    const marker = `dup-client-${crypto.randomUUID()}`
    await setFault({ match: marker, webhookCopies: 3 })
    const path = `/e2e-dups/${crypto.randomUUID()}/`
    const body = inference({
      positivePrompt: `three lanterns ${marker}`,
      numberResults: 3,
      deliveryMethod: 'async',
      webhookURL: `${inject('receiverUrl')}${path}`,
    })
    expect((await postV1(body)).status).toBe(200)
    const received = await waitFor(async () => {
      const got = (await (await fetch(`${inject('receiverUrl')}/__received?path=${path}`)).json()) as Received[]
      return new Set(got.map((r) => r.headers['webhook-id'])).size >= 3 ? got : undefined
    })
    await new Promise((r) => setTimeout(r, 1500)) // any stragglers
    const secret = (
      (await (await fetch(`${gateway()}/v1/webhooks/secret`, { headers: { authorization: `Bearer ${KEY_A}` } })).json()) as {
        data: { secret: string }
      }
    ).data.secret
    const wh = new Webhook(secret)
    for (const event of received) expect(() => wh.verify(event.body, event.headers)).not.toThrow()
    const ids = new Set(received.map((r) => r.headers['webhook-id']))
    expect(ids).toEqual(new Set([0, 1, 2].map((i) => `evt_${body.taskUUID}_${i}`)))
  })
})
