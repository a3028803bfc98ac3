/** Request ids on every response, Server-Timing on the API, and clean log lines: writes and failures always, reads when asked. */
import { createExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { app } from '../../../src/app'
import { logsRequest } from '../../../src/lib/request-log'
import { KEY_A, TEST_SECRETS } from '../../secrets'
import { inject } from 'vitest'
import { BASE, call, inference, upstreamRequests } from '../helpers'

/** The gateway's request log lines while `run` runs. */
async function requestLines(run: () => unknown): Promise<{ lines: string[]; requests: Record<string, unknown>[] }> {
  const lines: string[] = []
  vi.spyOn(console, 'log').mockImplementation((line: unknown) => void lines.push(String(line)))
  await run()
  const requests = lines.filter((l) => l.includes('"msg":"request"')).map((l) => JSON.parse(l) as Record<string, unknown>)
  return { lines, requests }
}

afterEach(() => vi.restoreAllMocks())

describe('observability', () => {
  it('puts x-request-id on every response and logs writes and failures, without secrets; successful reads are not logged', async () => {
    const responses: Response[] = []
    const { lines, requests } = await requestLines(async () => {
      responses.push(
        await call('/v1', { method: 'POST', headers: { authorization: `Bearer ${KEY_A}` }, body: JSON.stringify([inference()]) }),
        await call('/v1', { method: 'POST', body: 'garbage' }),
        await call(`/v1/tasks/${crypto.randomUUID()}`, { headers: { authorization: `Bearer ${KEY_A}` } }),
        await call('/nowhere'),
        await call('/healthz', { headers: { 'x-request-id': 'client-chosen-id.42' } }),
        await call('/v1/models'),
      )
    })
    for (const res of responses) expect(res.headers.get('x-request-id')).toMatch(/^[\w.:-]+$/)
    expect(responses[4]?.headers.get('x-request-id')).toBe('client-chosen-id.42')
    expect(responses[0]?.headers.get('server-timing')).toMatch(/^total;dur=\d+$/)
    expect(responses.map((r) => r.status)).toEqual([200, 401, 404, 404, 200, 200])

    expect(requests.map((r) => [r.method, r.route, r.status])).toEqual([
      ['POST', '/v1', 200],
      ['POST', '/v1', 401],
      ['GET', '/v1/tasks/:taskUUID', 404],
      ['GET', '*', 404],
    ])
    expect(requests[0]).toMatchObject({ level: 'info', tenant: expect.stringMatching(/^t[0-9a-f]+$/), durationMs: expect.any(Number) })
    expect(requests.map((r) => r.id)).toEqual(responses.slice(0, 4).map((r) => r.headers.get('x-request-id')))
    const everything = lines.join('\n')
    for (const secret of Object.values(TEST_SECRETS).flatMap((v) => v.split(','))) expect(everything).not.toContain(secret)
  })

  it('logs successful reads too with LOG_READS=true', async () => {
    const withReads = { ...env, LOG_READS: 'true' }
    const { requests } = await requestLines(() =>
      app.fetch(new Request(`${BASE}/healthz`, { headers: { 'x-request-id': 'read-42' } }), withReads, createExecutionContext()),
    )
    expect(requests.map((r) => [r.id, r.method, r.route, r.status])).toEqual([['read-42', 'GET', '/healthz', 200]])
  })

  it('keeps quiet only on fast successful reads', () => {
    expect(logsRequest('GET', 200, 3, false)).toBe(false)
    expect(logsRequest('HEAD', 304, 3, false)).toBe(false)
    expect(logsRequest('GET', 200, 1000, false)).toBe(true) // slow
    expect(logsRequest('GET', 404, 3, false)).toBe(true)
    expect(logsRequest('GET', 101, 3, false)).toBe(true) // a WebSocket upgrade
    expect(logsRequest('POST', 200, 3, false)).toBe(true)
    expect(logsRequest('DELETE', 200, 3, false)).toBe(true)
    expect(logsRequest('GET', 200, 3, true)).toBe(true)
  })

  it("carries a client's traceparent to Runware and to the task's webhook, and logs its trace id", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    const traceparent = `00-${traceId}-00f067aa0ba902b7-01`
    const marker = `trace-${crypto.randomUUID()}`
    const path = `/trace/${crypto.randomUUID()}/`
    const body = inference({ positivePrompt: `a traced lighthouse ${marker}`, webhookURL: `${inject('receiverUrl')}${path}` })
    const { requests } = await requestLines(async () => {
      const res = await call('/v1', {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY_A}`, traceparent },
        body: JSON.stringify([body]),
      })
      expect(res.status).toBe(200)
    })
    expect(requests.find((r) => r.route === '/v1')?.traceId).toBe(traceId)

    const [upstream] = await upstreamRequests(marker)
    const sent = (upstream as { traceparent?: string } | undefined)?.traceparent ?? ''
    // The same trace, as a hop of the gateway's own: a new span id, the client's flags.
    expect(sent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`))
    expect(sent).not.toBe(traceparent)

    let webhook: { headers: Record<string, string> } | undefined
    for (const deadline = Date.now() + 20_000; !webhook && Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
      webhook = (
        (await (await fetch(`${inject('receiverUrl')}/__received?path=${path}`)).json()) as { headers: Record<string, string> }[]
      )[0]
    }
    expect(webhook?.headers.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`))
  })

  it('starts a trace for a request without one (or with a malformed one), and logs it', async () => {
    const { requests } = await requestLines(async () => {
      await call('/v1', { method: 'POST', headers: { traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' }, body: '[]' })
      await call('/v1', { method: 'POST', body: '[]' })
    })
    const ids = requests.map((r) => r.traceId)
    expect(ids).toHaveLength(2)
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/)
    expect(ids[0]).not.toBe('00000000000000000000000000000000')
    expect(ids[0]).not.toBe(ids[1])
  })
})
