/**
 * A client's webhook receiver and upload target, for tests: records every request, and answers
 * as its path says. `/fail-3/…` fails the first 3 requests with 503, `/flaky-30/…` fails 30 %
 * of them, `/status-410/…` always answers 410; `POST /__status` {path, status} changes a path's
 * answer later (a receiver that recovers), `/redirect/…?to=URL` answers 302 to URL.
 * `GET /__received?path=` lists what arrived.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Received {
  method: string
  path: string
  headers: Record<string, string>
  /** The body as UTF-8 (webhooks) — and its length, for binary uploads. */
  body: string
  bytes: number
  at: number
  answered: number
}

export interface Receiver {
  url: string
  close(): Promise<void>
}

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = []
  const counts = new Map<string, number>()
  const overrides = new Map<string, number>()

  const answer = (path: string): number => {
    const n = (counts.get(path) ?? 0) + 1
    counts.set(path, n)
    const override = [...overrides].find(([prefix]) => path.startsWith(prefix))
    if (override) return override[1]
    const fail = /\/fail-(\d+)\//.exec(path)
    if (fail && n <= Number(fail[1])) return 503
    const flaky = /\/flaky-(\d+)\//.exec(path)
    if (flaky && Math.random() * 100 < Number(flaky[1])) return 503
    const status = /\/status-(\d{3})\//.exec(path)
    return status ? Number(status[1]) : 200
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://receiver')
      const body = Buffer.concat(chunks)
      if (req.method === 'GET' && url.pathname === '/__received') {
        const prefix = url.searchParams.get('path') ?? ''
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify(received.filter((r) => r.path.startsWith(prefix))))
        return
      }
      if (req.method === 'POST' && url.pathname === '/__status') {
        const { path, status } = JSON.parse(body.toString()) as { path: string; status: number }
        overrides.set(path, status)
        res.writeHead(204).end()
        return
      }
      // `/redirect/…?to=URL` answers 302 to URL: a client-named URL that redirects somewhere else.
      if (url.pathname.startsWith('/redirect/')) {
        res.writeHead(302, { location: url.searchParams.get('to') ?? '/' }).end()
        return
      }
      const status = answer(url.pathname)
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]))
      received.push({
        method: req.method ?? '',
        path: url.pathname,
        headers,
        body: body.toString('utf8'),
        bytes: body.length,
        at: Date.now(),
        answered: status,
      })
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'not now')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
