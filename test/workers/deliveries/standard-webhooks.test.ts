/** Client webhook signatures, checked by the reference verifier (`standardwebhooks`). */
import { describe, expect, it } from 'vitest'
import { Webhook } from 'standardwebhooks'
import { formatSecret, signatureHeader } from '../../../src/deliveries/standard-webhooks'

const secret = () => crypto.getRandomValues(new Uint8Array(24))

describe('Standard Webhooks signing', () => {
  it('signs with every secret during a rotation, space-separated, each verifying on its own', async () => {
    const [oldSecret, newSecret] = [secret(), secret()]
    const [id, timestamp, body] = ['evt_1', Math.floor(Date.now() / 1000), '{"type":"task.completed"}']
    const header = await signatureHeader([oldSecret, newSecret], id, timestamp, body)
    expect(header.split(' ')).toHaveLength(2)
    const headers = { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': header }
    for (const s of [oldSecret, newSecret]) {
      const formatted = formatSecret(s)
      expect(formatted).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/)
      expect(new Webhook(formatted).verify(body, headers)).toEqual({ type: 'task.completed' })
    }
    expect(() => new Webhook(formatSecret(secret())).verify(body, headers)).toThrow()
  })
})
