/**
 * A small typed client for imagine-edge. `createClient({ baseURL, apiKey })` gives generate(),
 * getTask(), waitFor(), listTasks() and verifyWebhook(); `client.rpc` is hono/client, typed by the
 * app itself. `variantURL()` turns any signed imageURL into a thumbnail's.
 *
 *   const client = createClient({ baseURL: 'http://127.0.0.1:8787', apiKey: process.env.IMAGINE_EDGE_KEY })
 *   const { data } = await client.generate({ positivePrompt: 'a lighthouse at dusk', width: 2560, height: 1440 })
 *   for await (const page of client.listTasks({ limit: 50 })) for (const task of page.data) console.log(task.taskUUID)
 *   img.src = variantURL(task.results[0].imageURL, { w: 256 })
 */
import { hc } from 'hono/client'
import { Webhook } from 'standardwebhooks'
import type { AppType } from '../src/app'
import type { imageInferenceSchema } from '../src/schemas/image-inference'
import type { errorSchema, imageItemSchema, taskListSchema, taskResourceSchema } from '../src/schemas/responses'
import type { z } from 'zod'

type InferenceInput = z.input<ReturnType<typeof imageInferenceSchema>>
/** An imageInference task; taskType, taskUUID and model are filled in when left out. */
export type GenerateParams = Omit<InferenceInput, 'taskType' | 'taskUUID' | 'model'> & Partial<Pick<InferenceInput, 'taskUUID' | 'model'>>
export type ImageItem = z.output<typeof imageItemSchema>
export type ApiErrorDetail = z.output<typeof errorSchema>
export type Task = z.output<typeof taskResourceSchema>['data']
export type TaskPage = z.output<typeof taskListSchema>

export interface ListTasksQuery {
  /** Tasks per page, 1 to 100 (default 20). */
  limit?: number
  status?: Task['status']
  /** Where to start: a page's nextCursor. */
  cursor?: string
}

export interface GenerateResult {
  taskUUID: string
  /** Finished images (sync), or the acknowledgement / `status: "processing"` item. */
  data: Record<string, unknown>[]
  errors: ApiErrorDetail[]
}

/** An answer with errors and no data: `status` is the HTTP status, `errors` Runware's. */
export class ImagineEdgeError extends Error {
  constructor(
    readonly status: number,
    readonly errors: ApiErrorDetail[],
  ) {
    super(errors.map((e) => `${e.code}: ${e.message}`).join('; ') || `HTTP ${status}`)
    this.name = 'ImagineEdgeError'
  }
}

export interface ClientOptions {
  baseURL: string
  apiKey: string
  fetch?: typeof fetch
}

export function createClient({ baseURL, apiKey, fetch: fetchImpl = fetch }: ClientOptions) {
  const headers = { authorization: `Bearer ${apiKey}` }
  const rpc = hc<AppType>(baseURL, { headers, fetch: fetchImpl })

  async function generate(params: GenerateParams): Promise<GenerateResult> {
    const taskUUID = params.taskUUID ?? crypto.randomUUID()
    const task = { taskType: 'imageInference', model: 'imagineart:1@5', ...params, taskUUID }
    const res = await fetchImpl(new URL('/v1', baseURL), {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify([task]),
    })
    const body = (await res.json()) as { data?: Record<string, unknown>[]; errors?: ApiErrorDetail[] }
    if (!body.data) throw new ImagineEdgeError(res.status, body.errors ?? [])
    return { taskUUID, data: body.data, errors: body.errors ?? [] }
  }

  async function getTask(taskUUID: string): Promise<Task> {
    const res = await rpc.v1.tasks[':taskUUID'].$get({ param: { taskUUID } })
    const body = (await res.json()) as { data?: Task; errors?: ApiErrorDetail[] }
    if (!res.ok || !body.data) throw new ImagineEdgeError(res.status, body.errors ?? [])
    return body.data
  }

  /** Polls a task until it leaves `processing`: 1 s, growing ×1.5 up to 10 s, as Runware's SDK does. */
  async function waitFor(taskUUID: string, { timeoutMs = 20 * 60_000 }: { timeoutMs?: number } = {}): Promise<Task> {
    const deadline = Date.now() + timeoutMs
    for (let wait = 1000; ; wait = Math.min(wait * 1.5, 10_000)) {
      const task = await getTask(taskUUID)
      if (task.status !== 'processing') return task
      if (Date.now() + wait > deadline) throw new Error(`task ${taskUUID} still processing after ${timeoutMs} ms`)
      await new Promise((resolve) => setTimeout(resolve, wait))
    }
  }

  /** The tenant's tasks, newest first, one page per iteration, until the last page. */
  async function* listTasks({ limit, status, cursor }: ListTasksQuery = {}): AsyncGenerator<TaskPage, void, undefined> {
    for (let next: string | null | undefined = cursor; ;) {
      const query = new URLSearchParams()
      if (limit !== undefined) query.set('limit', String(limit))
      if (status) query.set('status', status)
      if (next) query.set('cursor', next)
      const res = await fetchImpl(new URL(`/v1/tasks?${query}`, baseURL), { headers })
      const body = (await res.json()) as Partial<TaskPage> & { errors?: ApiErrorDetail[] }
      if (!res.ok || !body.data) throw new ImagineEdgeError(res.status, body.errors ?? [])
      const page = { data: body.data, nextCursor: body.nextCursor ?? null }
      yield page
      if (!page.nextCursor) return
      next = page.nextCursor
    }
  }

  return { rpc, generate, getTask, waitFor, listTasks, verifyWebhook }
}

export type VariantFormat = 'avif' | 'webp' | 'jpeg' | 'png'

/**
 * A resized copy of a signed imageURL: `w` must be one of the gateway's IMAGE_VARIANT_WIDTHS
 * (256, 512, 1024 unless its operator changed them). Without `format`, the browser's Accept picks
 * AVIF or WebP. The signature and expiry stay the original's.
 */
export function variantURL(imageURL: string, { w, format }: { w?: number; format?: VariantFormat } = {}): string {
  const url = new URL(imageURL)
  url.searchParams.delete('w')
  url.searchParams.delete('format')
  if (w !== undefined) url.searchParams.set('w', String(w))
  if (format) url.searchParams.set('format', format)
  return url.toString()
}

/**
 * Verifies a webhook from imagine-edge (Standard Webhooks) with your `whsec_` secret; returns
 * the parsed event, or throws when the signature, or the timestamp's freshness, doesn't hold.
 * Pass the raw body, exactly as received.
 */
export function verifyWebhook(rawBody: string, headers: Record<string, string>, secret: string): Record<string, unknown> {
  return new Webhook(secret).verify(rawBody, headers) as Record<string, unknown>
}
