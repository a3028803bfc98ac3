/** Key transitions are atomic: a storm of rotations and disables never leaves a live key that is not listed. */
import { env } from 'cloudflare:workers'
import { runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { ORIGIN_HEADER, SESSION_HEADER } from '../../../src/sockets/open-socket'
import { KEY_A, TEST_SECRETS } from '../../secrets'
import { BASE, call, postV1 } from '../helpers'

const admin = (path: string, body?: unknown) =>
  call(`/admin${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${TEST_SECRETS.ADMIN_TOKEN}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })

type Listed = { id: string; prefix: string; disabled: boolean }

describe('key transitions', () => {
  it.each([
    ['50 rotations', () => 'rotate'],
    ['25 rotations and 25 disables, interleaved', (i: number) => (i % 2 ? 'disable' : 'rotate')],
  ])('%s on one key id leave exactly one live key, or none, as listed', async (_name, pick) => {
    const created = await admin('/keys', { name: `storm-${crypto.randomUUID()}` })
    const { id, key: original } = ((await created.json()) as { data: { id: string; key: string } }).data
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => admin(`/keys/${id}/${pick(i)}`, {})))
    for (const res of answers) expect(res.status).toBe(200)
    const issued = [original]
    for (const res of answers) {
      const { key } = ((await res.json()) as { data: { key?: string } }).data
      if (key) issued.push(key)
    }
    const live: string[] = []
    for (const key of issued) if ((await postV1([{ taskType: 'ping', ping: true }], key)).status === 200) live.push(key)
    const listed = (((await (await admin('/keys')).json()) as { data: Listed[] }).data ?? []).filter((k) => k.id === id)
    expect(listed).toHaveLength(1)
    if (listed[0]?.disabled) expect(live).toEqual([])
    else {
      expect(live).toHaveLength(1)
      expect(live[0]?.startsWith(listed[0]?.prefix ?? '?')).toBe(true)
    }
  })
})

describe('admin bodies', () => {
  it('refuses an oversize key body with 413 naming the limit, and creates nothing', async () => {
    const count = async () => (((await (await admin('/keys')).json()) as { data: unknown[] }).data ?? []).length
    const before = await count()
    const res = await admin('/keys', { name: 'x'.repeat(20_000) })
    expect(res.status).toBe(413)
    const error = ((await res.json()) as { errors: { code: string; message: string }[] }).errors[0]
    expect(error?.code).toBe('payloadTooLarge')
    expect(error?.message).toContain('16384')
    expect(await count()).toBe(before)
  })
})

describe('per-address limits on what no key pays for', () => {
  it('answers failed authentications from one address 401 until its limit, then 429 with Retry-After', async () => {
    const ip = `203.0.113.${Math.floor(Math.random() * 250)}`
    const statuses: number[] = []
    for (let i = 0; i < 305; i++) {
      const res = await call('/v1', {
        method: 'POST',
        headers: { authorization: 'Bearer ie_guess_000000000000000000000000', 'cf-connecting-ip': ip },
        body: '[]',
      })
      statuses.push(res.status)
    }
    expect(statuses.slice(0, 300).every((s) => s === 401)).toBe(true)
    expect(statuses.slice(300)).toEqual([429, 429, 429, 429, 429])
    // Another address, and a real key from the same one, are unaffected.
    expect(
      (await call('/v1', { method: 'POST', headers: { authorization: 'Bearer nope', 'cf-connecting-ip': '198.51.100.7' }, body: '[]' }))
        .status,
    ).toBe(401)
    const valid = await call('/v1', {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY_A}`, 'cf-connecting-ip': ip },
      body: JSON.stringify([{ taskType: 'ping', ping: true }]),
    })
    expect(valid.status).toBe(200)
  })
})

describe('nothing stored before authentication', () => {
  it('a WebSocket that never authenticates leaves its session object empty, bar the alarm that closes it', async () => {
    const name = crypto.randomUUID()
    const stub = env.SOCKETS.get(env.SOCKETS.idFromName(name))
    const res = await stub.fetch(
      new Request(`${BASE}/v1`, { headers: { upgrade: 'websocket', [SESSION_HEADER]: name, [ORIGIN_HEADER]: BASE } }),
    )
    expect(res.status).toBe(101)
    const ws = res.webSocket!
    ws.accept()
    const closed = new Promise((resolve) => ws.addEventListener('close', resolve))
    ws.send('[{"taskType":"authentication","apiKey":"ie_guess_000000000000000000000000"}]')
    await Promise.race([closed, new Promise((r) => setTimeout(r, 2000))])
    const rows = await runInDurableObject(stub, (_instance, state) =>
      ['meta', 'tasks', 'results'].map((table) => state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`).one().n),
    )
    expect(rows).toEqual([0, 0, 0])
  })
})
