/** POST /v1 — the Runware-compatible endpoint. */
import { Hono } from 'hono'
import type { AppEnv } from '../app-env'
import { envelopeResponse } from '../lib/envelope'
import { ApiError } from '../lib/errors'
import { bearerToken } from '../access/api-keys'
import { setRateLimitHeaders } from '../access/rate-limits'
import { MODELS } from '../models/registry'
import { runTasks } from '../protocol/run-tasks'
import { openSocket } from '../sockets/open-socket'
import { authenticationSchema } from '../schemas/tasks'
import { admit, services } from './middleware'

/** Room for the request itself plus every inline reference image a model accepts, as base64. */
const MAX_BODY_BYTES =
  1024 * 1024 + Math.max(...MODELS.map((m) => m.referenceImages.maxCount * Math.ceil(m.referenceImages.maxBytes / 3) * 4))

const tooLarge = () => new ApiError(413, { code: 'payloadTooLarge', message: `The request body is larger than ${MAX_BODY_BYTES} bytes` })

async function readJson(request: Request): Promise<unknown> {
  if (Number(request.headers.get('content-length') ?? 0) > MAX_BODY_BYTES) throw tooLarge()
  const text = await request.text()
  if (text.length > MAX_BODY_BYTES) throw tooLarge()
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

export const runwareRoutes = new Hono<AppEnv>()
  // Runware's WebSocket protocol: the same tasks, authenticated by the first message (docs/websocket.md).
  .get('/', (c) => {
    if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
      throw new ApiError(426, {
        code: 'upgradeRequired',
        message: 'GET /v1 is the WebSocket endpoint (Upgrade: websocket); send tasks over HTTP with POST /v1',
      })
    }
    return openSocket(c.env.SOCKETS, c.req.raw, services(c).origin)
  })
  .post('/', async (c) => {
    const startedAt = Date.now()
    // The header, when present, is checked before the body is read at all.
    const header = c.req.header('authorization')
    let limit = header === undefined ? null : await admit(c, bearerToken(header))
    const body = await readJson(c.req.raw)
    let tasks: unknown[] = Array.isArray(body) ? body : body === undefined ? [] : [body]
    // Runware's in-body form: a first element {"taskType":"authentication","apiKey":"…"}.
    const auth = authenticationSchema.safeParse(tasks[0])
    if (auth.success) tasks = tasks.slice(1)
    limit ??= await admit(c, auth.success ? auth.data.apiKey : null)
    if (body === undefined)
      throw new ApiError(400, { code: 'invalidRequestBody', message: 'The request body must be a JSON array of tasks' })
    const outcome = await runTasks(services(c), c.get('principal'), tasks, startedAt)
    // Every answer is the array envelope, a lone imageUpload's too: one docs page shows `data` as an
    // object there, but Runware's schema-generated types and every SDK read the array.
    const response = envelopeResponse(outcome.items, outcome.errors, services(c).origin)
    setRateLimitHeaders(response.headers, limit)
    return response
  })
