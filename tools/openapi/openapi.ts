/**
 * The OpenAPI 3.1 description, generated with @hono/zod-openapi from the very zod schemas that
 * validate requests. Built at asset-build time (scripts/build-assets.ts) and served as a static
 * file, so the generator never ships in the Worker.
 */
import { OpenAPIHono } from '@hono/zod-openapi'
import * as z from 'zod'
import { MODELS } from '../../src/models/registry'
import { createKeySchema, tenantBudgetSchema, updateKeySchemaFor } from '../../src/schemas/api-keys'
import { imageInferenceSchema } from '../../src/schemas/image-inference'
import * as r from '../../src/schemas/responses'
import { authenticationSchema, getResponseSchema, imageUploadSchema } from '../../src/schemas/tasks'

const seedRequest = {
  taskType: 'imageInference',
  taskUUID: '39a53ab2-8f31-41d4-a71f-1046162099d0',
  model: 'imagineart:1@5',
  positivePrompt: 'A hyper-realistic cinematic portrait of a solitary woman standing in a narrow neon-lit alley after midnight, …',
  width: 1664,
  height: 2496,
}
const seedResponse = {
  data: [
    {
      taskType: 'imageInference',
      taskUUID: '39a53ab2-8f31-41d4-a71f-1046162099d0',
      imageUUID: '835fead6-51c2-4b9f-816a-f34779975ac1',
      imageURL: 'https://imagine-edge.example.workers.dev/files/images/t…/39a53ab2-8f31-41d4-a71f-1046162099d0/0.jpg?exp=1795488900&sig=…',
      seed: 515047464,
    },
  ],
}

/** `ping` is answered as it comes, never validated, so only the reference needs its shape. */
const pingSchema = z.looseObject({ taskType: z.literal('ping') })

const json = <T extends z.ZodType>(schema: T, description: string, example?: unknown) => ({
  description,
  content: { 'application/json': { schema, ...(example ? { example } : {}) } },
})
const errors = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [s, json(r.errorEnvelopeSchema, `Runware-style error (HTTP ${s})`)]))

const taskUUIDParam = z.object({ taskUUID: z.string().describe('The client taskUUID') })
const bearer = [{ bearerAuth: [] }]
const admin = [{ adminAuth: [] }]
const usageQuery = z.object({
  from: z.string().optional().describe('YYYY-MM-DD, default: first of the month'),
  to: z.string().optional().describe('YYYY-MM-DD, default: today'),
  groupBy: z.string().optional().describe('key, model or day, or several joined by commas (day,key)'),
})

export function buildOpenApiDocument(): Record<string, unknown> {
  const app = new OpenAPIHono()
  const registry = app.openAPIRegistry
  registry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'A gateway API key (not a Runware key)',
  })
  registry.registerComponent('securitySchemes', 'adminAuth', { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN' })

  const task = z.union([
    ...MODELS.map((m) => imageInferenceSchema(m)),
    imageUploadSchema,
    getResponseSchema,
    pingSchema,
    authenticationSchema,
  ])
  registry.registerPath({
    method: 'post',
    path: '/v1',
    tags: ['Runware-compatible'],
    summary: 'Run tasks: imageInference, imageUpload, getResponse, ping',
    description:
      'A JSON array of tasks, or one task object. Authenticate with a Bearer key, or with a first element {"taskType":"authentication","apiKey":"…"}. 200 when any data is returned; otherwise the status of the worst error.',
    security: bearer,
    request: { body: { content: { 'application/json': { schema: z.union([z.array(task), task]), example: seedRequest } } } },
    responses: {
      200: json(r.v1ResponseSchema, 'Results, and errors for the tasks that failed', seedResponse),
      ...errors(400, 401, 402, 403, 404, 409, 413, 429, 502, 503),
    },
  })
  registry.registerPath({
    method: 'get',
    path: '/v1',
    tags: ['Runware-compatible'],
    summary: "Runware's WebSocket protocol (Upgrade: websocket)",
    description:
      'Upgrade to a WebSocket speaking Runware\'s protocol, as @runware/sdk-js does: the first message is [{"taskType":"authentication","apiKey":"…"}] (with "connectionSessionUUID" to resume a session within 120 s); then the tasks of POST /v1, each answered by {"data":[…]} or {"errors":[…]} frames. Sync imageInference results are pushed one frame per result as they are stored. See docs/websocket.md.',
    responses: {
      101: { description: 'Switching protocols: the socket is open; authenticate with the first message' },
      ...errors(426),
    },
  })
  registry.registerPath({
    method: 'get',
    path: '/v1/tasks',
    tags: ['Tasks'],
    summary: "Your tenant's tasks, newest first, with freshly signed URLs",
    description:
      'Cursor-paginated: follow nextCursor until it is null. Tasks created after the first page never shift later pages. Deleted tasks are left out; tasks are kept 30 days.',
    security: bearer,
    request: {
      query: z.object({
        limit: z.string().optional().describe('1 to 100, default 20'),
        cursor: z.string().optional().describe('nextCursor from the previous page, unchanged'),
        status: z.enum(['processing', 'succeeded', 'failed']).optional(),
      }),
    },
    responses: { 200: json(r.taskListSchema, 'A page of tasks'), ...errors(400, 401, 429) },
  })
  registry.registerPath({
    method: 'get',
    path: '/v1/tasks/{taskUUID}',
    tags: ['Tasks'],
    summary: 'A task: status, results with freshly signed URLs, errors',
    security: bearer,
    request: { params: taskUUIDParam },
    responses: { 200: json(r.taskResourceSchema, 'The task'), ...errors(401, 404, 429) },
  })
  registry.registerPath({
    method: 'delete',
    path: '/v1/tasks/{taskUUID}',
    tags: ['Tasks'],
    summary: "Deletes a task's images, deliveries and record",
    security: bearer,
    request: { params: taskUUIDParam },
    responses: {
      200: json(z.object({ data: z.object({ taskUUID: z.string(), deleted: z.literal(true) }) }), 'Deleted'),
      ...errors(401, 404),
    },
  })
  registry.registerPath({
    method: 'post',
    path: '/v1/images',
    tags: ['Images'],
    summary: 'Upload an input image for inputs.referenceImages (raw image body, or multipart field "image")',
    security: bearer,
    request: {
      body: {
        content: {
          'image/png': { schema: z.string().describe('The image bytes (PNG, JPG or WEBP; checked by magic bytes)') },
          'multipart/form-data': { schema: z.object({ image: z.string().describe('The image file') }) },
        },
      },
    },
    responses: {
      201: json(
        z.object({ data: z.object({ taskType: z.literal('imageUpload'), imageUUID: z.string(), imageURL: z.url() }) }),
        'The stored image, and a signed URL serving its bytes',
      ),
      ...errors(400, 401, 413, 415),
    },
  })
  registry.registerPath({
    method: 'get',
    path: '/v1/tasks/{taskUUID}/deliveries',
    tags: ['Webhooks'],
    summary: "The task's client webhook events and upload copies, with every attempt",
    security: bearer,
    request: { params: taskUUIDParam },
    responses: { 200: json(r.deliveriesSchema, 'The delivery log'), ...errors(401, 404) },
  })
  registry.registerPath({
    method: 'get',
    path: '/v1/webhooks/secret',
    tags: ['Webhooks'],
    summary: 'Your whsec_ signing secret (Standard Webhooks)',
    security: bearer,
    responses: { 200: json(r.webhookSecretSchema, 'The secret'), ...errors(401) },
  })
  registry.registerPath({
    method: 'post',
    path: '/v1/webhooks/secret/rotate',
    tags: ['Webhooks'],
    summary: 'A new secret; the old one keeps signing for 24 h',
    security: bearer,
    responses: { 200: json(r.webhookSecretSchema, 'The new secret and the previous one'), ...errors(401) },
  })
  registry.registerPath({
    method: 'post',
    path: '/v1/webhooks/deliveries/{id}/replay',
    tags: ['Webhooks'],
    summary: 'Sends an event again, with the same webhook-id',
    security: bearer,
    request: { params: z.object({ id: z.string() }) },
    responses: { 202: json(z.object({ data: z.object({ id: z.string(), status: z.literal('queued') }) }), 'Queued'), ...errors(401, 404) },
  })
  registry.registerPath({
    method: 'get',
    path: '/v1/usage',
    tags: ['Usage'],
    summary: 'Your images and settled cost by day and model (groupBy=key|model|day), and where your budgets stand',
    security: bearer,
    request: { query: usageQuery },
    responses: { 200: json(r.usageSchema, 'Usage'), ...errors(400, 401) },
  })
  registry.registerPath({
    method: 'get',
    path: '/v1/usage/alerts',
    tags: ['Usage'],
    summary: 'Your budget.threshold events, with every attempt (replay one with POST /v1/webhooks/deliveries/{id}/replay)',
    security: bearer,
    responses: { 200: json(r.deliveriesSchema, 'The alert log'), ...errors(401) },
  })
  registry.registerPath({
    method: 'patch',
    path: '/admin/keys/{id}',
    tags: ['Admin'],
    summary: "Changes a key's name, limits or alerts; null removes a limit",
    security: admin,
    request: { params: z.object({ id: z.string() }), body: { content: { 'application/json': { schema: updateKeySchemaFor(false) } } } },
    responses: { 200: json(z.object({ data: r.keyRecordSchema }), 'The key record'), ...errors(400, 401, 404) },
  })
  registry.registerPath({
    method: 'put',
    path: '/admin/tenants/{tenant}/budget',
    tags: ['Admin'],
    summary: "Sets a tenant's own budget: every key of the tenant counts against it",
    security: admin,
    request: { params: z.object({ tenant: z.string() }), body: { content: { 'application/json': { schema: tenantBudgetSchema } } } },
    responses: { 200: json(z.object({ data: z.object({ tenant: z.string() }).loose() }), 'The budget'), ...errors(400, 401) },
  })
  registry.registerPath({
    method: 'delete',
    path: '/admin/tenants/{tenant}/budget',
    tags: ['Admin'],
    summary: "Removes a tenant's own budget",
    security: admin,
    request: { params: z.object({ tenant: z.string() }) },
    responses: {
      200: json(z.object({ data: z.object({ tenant: z.string(), deleted: z.literal(true) }) }), 'Removed'),
      ...errors(400, 401),
    },
  })
  registry.registerPath({
    method: 'get',
    path: '/admin/tenants/{tenant}/storage',
    tags: ['Admin'],
    summary: "How full a tenant's shard objects are",
    security: admin,
    request: { params: z.object({ tenant: z.string() }) },
    responses: { 200: json(r.storageSchema, 'Storage'), ...errors(400, 401) },
  })
  registry.registerPath({
    method: 'get',
    path: '/v1/models',
    tags: ['Models'],
    summary: 'The model registry: ids, capabilities, the allowed sizes and limits',
    responses: { 200: json(r.modelsSchema, 'Models') },
  })
  registry.registerPath({
    method: 'get',
    path: '/files/{key}',
    tags: ['Images'],
    summary: 'A signed image URL, as returned in imageURL (GET and HEAD; Range; If-None-Match), or a resized variant of it',
    description:
      'Append w (one of IMAGE_VARIANT_WIDTHS, default 256, 512, 1024) for a resized copy that keeps the aspect ratio: AVIF when Accept names image/avif, else WebP when it names image/webp, else the original format (Vary: Accept). format overrides that choice. The signature still decides access and expiry; w and format need none. 501 when the gateway has no Images binding.',
    request: {
      params: z.object({ key: z.string() }),
      query: z.object({
        exp: z.string(),
        sig: z.string(),
        w: z.string().optional().describe('A variant width, one of IMAGE_VARIANT_WIDTHS (default 256, 512, 1024)'),
        format: z.enum(['avif', 'webp', 'jpeg', 'png']).optional().describe('A variant format, instead of the one Accept picks'),
      }),
    },
    responses: {
      200: { description: 'The image bytes (image/jpeg, image/png or image/webp; a variant may be image/avif)' },
      206: { description: 'A byte range' },
      304: { description: 'Not modified' },
      ...errors(400, 403, 404, 422, 501, 503),
    },
  })
  registry.registerPath({
    method: 'get',
    path: '/healthz',
    tags: ['Operations'],
    summary: 'Liveness, and configuration problems by name',
    responses: {
      200: json(z.object({ status: z.literal('ok'), environment: z.string(), uploadMode: z.string() }), 'Healthy'),
      503: json(z.object({ status: z.literal('misconfigured'), problems: z.array(z.string()) }), 'A setting is missing or bad'),
    },
  })
  registry.registerPath({
    method: 'post',
    path: '/admin/keys',
    tags: ['Admin'],
    summary: 'Creates a managed API key (the key is shown only here)',
    security: admin,
    request: { body: { content: { 'application/json': { schema: createKeySchema } } } },
    responses: { 201: json(z.object({ data: r.keyRecordSchema.extend({ key: z.string() }) }), 'The key'), ...errors(400, 401) },
  })
  registry.registerPath({
    method: 'get',
    path: '/admin/keys',
    tags: ['Admin'],
    summary: 'Managed keys, without secrets',
    security: admin,
    responses: { 200: json(z.object({ data: z.array(r.keyRecordSchema) }), 'Keys'), ...errors(401) },
  })
  for (const action of ['disable', 'rotate'] as const) {
    registry.registerPath({
      method: 'post',
      path: `/admin/keys/{id}/${action}`,
      tags: ['Admin'],
      summary: action === 'disable' ? 'Disables a key' : 'A new key for the same tenant and limits; the old one stops working',
      security: admin,
      request: { params: z.object({ id: z.string() }) },
      responses: {
        200: json(z.object({ data: r.keyRecordSchema.extend({ key: z.string().optional() }) }), 'The key record'),
        ...errors(401, 404),
      },
    })
  }
  registry.registerPath({
    method: 'get',
    path: '/admin/tenants/{tenant}/usage',
    tags: ['Admin'],
    summary: "A tenant's usage",
    security: admin,
    request: { params: z.object({ tenant: z.string() }), query: usageQuery },
    responses: { 200: json(r.usageSchema, 'Usage'), ...errors(400, 401) },
  })

  return app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: {
      title: 'imagine-edge',
      version: '1.0.0',
      description:
        'An edge gateway for the Runware image API, serving ImagineArt 1.5. Runware clients work unchanged after switching their base URL and key.',
    },
    servers: [{ url: '/' }],
  }) as unknown as Record<string, unknown>
}
