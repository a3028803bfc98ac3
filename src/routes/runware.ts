/** POST /v1 — the Runware-compatible endpoint. */
import { Hono, type Context } from 'hono'
import type { AppEnv } from '../app-env'
import { envelopeResponse } from '../lib/envelope'
import { peek, readCapped } from '../lib/streams'
import { ApiError } from '../lib/errors'
import { bearerToken } from '../access/api-keys'
import { setRateLimitHeaders } from '../access/rate-limits'
import { MODELS } from '../models/registry'
import { runTasks } from '../protocol/run-tasks'
import { openSocket } from '../sockets/open-socket'
import { authenticationSchema } from '../schemas/tasks'
import { admit, clientIp, services } from './middleware'

/** Room for the request itself plus every inline reference image a model accepts, as base64. */
const MAX_BODY_BYTES =
  1024 * 1024 + Math.max(...MODELS.map((m) => m.referenceImages.maxCount * Math.ceil(m.referenceImages.maxBytes / 3) * 4))

/** How much of a body without an Authorization header is read to find its in-body authentication. */
const AUTH_PREFIX_BYTES = 64 * 1024

const tooLarge = () =>
  new ApiError(413, { code: 'payloadTooLarge', message: `The request body is larger than ${MAX_BODY_BYTES} bytes`, parameter: 'body' })

/**
 * The apiKey of Runware's in-body authentication, `[{"taskType":"authentication","apiKey":"…"}, …]`,
 * read from the body's first bytes alone: its first element is flat, so it ends at the first `}`.
 */
function inBodyKey(head: Uint8Array): string | null {
  const text = new TextDecoder().decode(head)
  const start = text.indexOf('{')
  const end = text.indexOf('}', start)
  if (start === -1 || end === -1 || !/^\s*(\[\s*)?$/.test(text.slice(0, start))) return null
  try {
    const first = authenticationSchema.safeParse(JSON.parse(text.slice(start, end + 1)))
    return first.success ? first.data.apiKey : null
  } catch {
    return null
  }
}

/**
 * Authenticates, then reads the body, each step bounded. With an Authorization header the key is
 * checked before any byte is read; without one only a small prefix is read to find the in-body
 * key, and a body without one is refused at once, whatever its size.
 */
async function admitAndRead(c: Context<AppEnv>): Promise<{ limit: number; body: unknown }> {
  const header = c.req.header('authorization')
  let stream = c.req.raw.body
  let limit: number
  if (header !== undefined) limit = await admit(c, bearerToken(header))
  else {
    const peeked = stream ? await peek(stream, AUTH_PREFIX_BYTES) : null
    const key = peeked ? inBodyKey(peeked.head) : null
    if (!key) await peeked?.body.cancel()
    limit = await admit(c, key)
    stream = peeked?.body ?? null
  }
  if (Number(c.req.header('content-length') ?? 0) > MAX_BODY_BYTES) {
    await stream?.cancel()
    throw tooLarge()
  }
  const bytes = await readCapped(stream, MAX_BODY_BYTES, tooLarge)
  try {
    return { limit, body: JSON.parse(new TextDecoder().decode(bytes)) }
  } catch {
    return { limit, body: undefined }
  }
}

export const runwareRoutes = new Hono<AppEnv>()
  // Runware's WebSocket protocol: the same tasks, authenticated by the first message (docs/websocket.md).
  .get('/', async (c) => {
    if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
      throw new ApiError(426, {
        code: 'upgradeRequired',
        message: 'GET /v1 is the WebSocket endpoint (Upgrade: websocket); send tasks over HTTP with POST /v1',
      })
    }
    await services(c).rateLimits.guard('upgrade', clientIp(c))
    return openSocket(c.env.SOCKETS, c.req.raw, services(c).origin)
  })
  .post('/', async (c) => {
    const startedAt = Date.now()
    const { limit, body } = await admitAndRead(c)
    let tasks: unknown[] = Array.isArray(body) ? body : body === undefined ? [] : [body]
    // Runware's in-body form: a first element {"taskType":"authentication","apiKey":"…"}.
    if (authenticationSchema.safeParse(tasks[0]).success) tasks = tasks.slice(1)
    if (body === undefined)
      throw new ApiError(400, { code: 'invalidRequestBody', message: 'The request body must be a JSON array of tasks' })
    const outcome = await runTasks(services(c), c.get('principal'), tasks, startedAt)
    // Every answer is the array envelope, a lone imageUpload's too: one docs page shows `data` as an
    // object there, but Runware's schema-generated types and every SDK read the array.
    const response = envelopeResponse(outcome.items, outcome.errors, services(c).origin)
    setRateLimitHeaders(response.headers, limit)
    return response
  })
