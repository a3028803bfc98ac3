import { exports } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { KEY_A } from '../secrets'

describe('smoke', () => {
  it('pings', async () => {
    const res = await exports.default.fetch('http://gw/v1', {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY_A}`, 'content-type': 'application/json' },
      body: JSON.stringify([{ taskType: 'ping', ping: true }]),
    })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ data: [{ taskType: 'ping', pong: true }] })
  })
})
