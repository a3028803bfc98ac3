/** Request ids on every response, Server-Timing on the API, and one clean log line per request. */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { KEY_A, TEST_SECRETS } from '../secrets'
import { call, inference } from './helpers'

afterEach(() => vi.restoreAllMocks())

describe('observability', () => {
  it('puts x-request-id on every response and logs one JSON line per request, without secrets', async () => {
    const lines: string[] = []
    vi.spyOn(console, 'log').mockImplementation((line: unknown) => void lines.push(String(line)))
    const responses = [
      await call('/v1', { method: 'POST', headers: { authorization: `Bearer ${KEY_A}` }, body: JSON.stringify([inference()]) }),
      await call('/v1', { method: 'POST', body: 'garbage' }),
      await call(`/v1/tasks/${crypto.randomUUID()}`, { headers: { authorization: `Bearer ${KEY_A}` } }),
      await call('/nowhere'),
      await call('/healthz', { headers: { 'x-request-id': 'client-chosen-id.42' } }),
    ]
    for (const res of responses) expect(res.headers.get('x-request-id')).toMatch(/^[\w.:-]+$/)
    expect(responses[4]?.headers.get('x-request-id')).toBe('client-chosen-id.42')
    expect(responses[0]?.headers.get('server-timing')).toMatch(/^total;dur=\d+$/)

    const requests = lines.filter((l) => l.includes('"msg":"request"')).map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(requests).toHaveLength(5)
    expect(requests.map((r) => [r.method, r.route, r.status])).toEqual([
      ['POST', '/v1', 200],
      ['POST', '/v1', 401],
      ['GET', '/v1/tasks/:taskUUID', 404],
      ['GET', '*', 404],
      ['GET', '/healthz', 200],
    ])
    expect(requests[0]).toMatchObject({ level: 'info', tenant: expect.stringMatching(/^t[0-9a-f]+$/), durationMs: expect.any(Number) })
    expect(requests.map((r) => r.id)).toEqual(responses.map((r) => r.headers.get('x-request-id')))
    const everything = lines.join('\n')
    for (const secret of Object.values(TEST_SECRETS).flatMap((v) => v.split(','))) expect(everything).not.toContain(secret)
  })
})
