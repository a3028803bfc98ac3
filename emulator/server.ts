/**
 * A local emulator of Runware's REST API for ImagineArt 1.5: a real HTTP server so the
 * gateway can be developed and tested end to end with no Runware account.
 */
import { setMaxListeners } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { handleV1 } from './api.ts'
import { Delivery } from './delivery.ts'
import { FaultSet, parseFaultRule, type FaultRule } from './faults.ts'
import { ImageStore, MIME_TYPES } from './images.ts'
import { DEFAULT_READINGS, readingsWith, type Readings } from './readings.ts'
import { RequestLog } from './request-log.ts'
import { TaskEngine } from './tasks.ts'
import type { Stats } from './types.ts'

export type { FaultRule, HttpStatusFault } from './faults.ts'
export type { Readings } from './readings.ts'
export type { RecordedRequest } from './request-log.ts'
export type { ApiError, ResultItem, Stats } from './types.ts'

// Reference images may arrive as base64 inside the JSON body.
const MAX_BODY_BYTES = 20 * 1024 * 1024

export interface EmulatorOptions {
  /** 0 (the default) picks a free port. */
  port?: number
  /** Defaults to 127.0.0.1: the control endpoints have no authentication. */
  host?: string
  apiKey: string
  /** Suppresses the one-line-per-request log. */
  quiet?: boolean
  /** Readings of what Runware's docs leave open (readings.ts); each default is the least convenient. */
  readings?: Partial<Readings>
}

export interface Emulator {
  /** Base URL without a trailing slash; the API is at `url + '/v1'`. */
  url: string
  port: number
  close(): Promise<void>
  /** Adds a fault rule and returns its id; the newest matching rule wins. */
  setFaults(rule: FaultRule): string
  clearFaults(): void
  stats(): Stats
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, 'request body too large'))
        req.destroy()
      } else chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

/** Starts the emulator and resolves once it is listening. */
export async function startEmulator(opts: EmulatorOptions): Promise<Emulator> {
  const host = opts.host ?? '127.0.0.1'
  const log = opts.quiet ? (): void => {} : (line: string): void => console.log(`[emulator] ${line}`)
  const shutdown = new AbortController()
  // Every pending delay and webhook retry listens to it: many at once is normal here.
  setMaxListeners(0, shutdown.signal)
  const faults = new FaultSet()
  const readings = readingsWith(DEFAULT_READINGS, opts.readings)
  const images = new ImageStore()
  const requests = new RequestLog()
  const delivery = new Delivery(shutdown.signal, log)
  let url = ''
  const tasks = new TaskEngine({ images, delivery, baseUrl: () => url, signal: shutdown.signal, log })
  let requestCount = 0

  const stats = (): Stats => ({
    requests: requestCount,
    generations: Object.fromEntries(tasks.generations),
    uploads: { ...delivery.uploads },
    webhooks: { ...delivery.webhooks },
  })

  async function route(req: IncomingMessage, res: ServerResponse): Promise<number> {
    const { pathname, searchParams } = new URL(req.url ?? '/', 'http://emulator')
    const method = req.method ?? 'GET'
    if (method === 'POST' && (pathname === '/v1' || pathname === '/v1/')) {
      requestCount += 1
      const answer = await handleV1(
        { apiKey: opts.apiKey, tasks, faults, requests, readings },
        req.headers.authorization,
        await readBody(req),
        typeof req.headers.traceparent === 'string' ? req.headers.traceparent : undefined,
      )
      sendJson(res, answer.status, answer.body, answer.headers)
      return answer.status
    }
    if ((method === 'GET' || method === 'HEAD') && pathname.startsWith('/images/')) {
      const image = await images.get(pathname.slice('/images/'.length))
      if (!image) throw new HttpError(404, 'image not found')
      // A misbehaving image host, for the gateway's copies: the connection dropped, or the image sent under an error status.
      if (searchParams.has('drop')) {
        req.socket.destroy()
        return 0
      }
      const status = Number(searchParams.get('status') ?? 200)
      res.writeHead(status, { 'content-type': MIME_TYPES[image.format], 'content-length': image.bytes.length })
      res.end(method === 'HEAD' ? undefined : image.bytes)
      return status
    }
    if (pathname === '/__emulator/faults' && method === 'POST') {
      const rule = parseFaultRule(parseJson(await readBody(req)))
      if (typeof rule === 'string') throw new HttpError(400, rule)
      sendJson(res, 200, { id: faults.add(rule) })
      return 200
    }
    if (pathname === '/__emulator/faults' && method === 'DELETE') {
      faults.clear()
      sendJson(res, 200, { cleared: true })
      return 200
    }
    if (pathname === '/__emulator/redirect' && method === 'GET') {
      // A redirect from Runware's own host: the gateway must not follow it wherever it points.
      res.writeHead(302, { location: searchParams.get('to') ?? '/' })
      res.end()
      return 302
    }
    if (pathname === '/__emulator/stats' && method === 'GET') {
      sendJson(res, 200, stats())
      return 200
    }
    if (pathname === '/__emulator/requests' && method === 'GET') {
      sendJson(res, 200, requests.list(searchParams.get('match') ?? undefined))
      return 200
    }
    throw new HttpError(404, `no route for ${method} ${pathname}`)
  }

  const server = createServer((req, res) => {
    const started = Date.now()
    // Only the path is logged: query strings could carry secrets.
    const path = (req.url ?? '/').split('?')[0]
    route(req, res)
      .catch((error: unknown) => {
        const status = error instanceof HttpError ? error.status : 500
        if (!(error instanceof HttpError)) log(`internal error: ${String(error)}`)
        if (!res.headersSent)
          sendJson(res, status, {
            errors: [
              {
                code: status === 404 ? 'notFound' : 'invalidRequest',
                message: error instanceof HttpError ? error.message : 'internal error',
              },
            ],
          })
        return status
      })
      .then((status) => log(`${req.method ?? '?'} ${path} ${status} ${Date.now() - started}ms`))
      .catch(() => undefined)
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, host, () => resolve())
  })
  const { port } = server.address() as AddressInfo
  // A wildcard bind is reachable on loopback; IPv6 literals need brackets in a URL.
  const urlHost = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host
  url = `http://${urlHost}:${port}`

  return {
    url,
    port,
    setFaults: (rule) => faults.add(rule),
    clearFaults: () => faults.clear(),
    stats,
    async close() {
      shutdown.abort()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await tasks.drain()
      await delivery.drain()
    },
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    throw new HttpError(400, 'body is not valid JSON')
  }
}
