/** Another tenant's task, images and deliveries are not there, on every route; Range headers never break /files. */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { UrlSigner } from '../../../src/images/url-signer'
import { imageKey } from '../../../src/lib/storage-keys'
import { KEY_A, KEY_B, TEST_SECRETS } from '../../secrets'
import { BASE, call, inference, postV1, tenantOf } from '../helpers'

const as = (key: string, path: string, init: RequestInit = {}) =>
  call(path, { ...init, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...init.headers } })

describe("another tenant's things", () => {
  it('are not there for tenant B on any route, and B learns nothing of them', async () => {
    const task = inference({ positivePrompt: 'a private garden', webhookURL: 'https://example.com/hook' })
    const created = await postV1([task], KEY_A)
    expect(created.status).toBe(200)
    const imageUUID = String(created.json.data?.[0]?.imageUUID)
    const uploaded = await postV1(
      [{ taskType: 'mediaStorage', taskUUID: crypto.randomUUID(), operation: 'upload', media: btoa(String.fromCharCode(...PNG)) }],
      KEY_A,
    )
    const mediaUUID = String(uploaded.json.data?.[0]?.mediaUUID)
    const checks: [string, () => Promise<Response>, number, string][] = [
      ['GET the task', () => as(KEY_B, `/v1/tasks/${task.taskUUID}`), 404, 'taskNotFound'],
      ['GET its deliveries', () => as(KEY_B, `/v1/tasks/${task.taskUUID}/deliveries`), 404, 'taskNotFound'],
      ['DELETE it', () => as(KEY_B, `/v1/tasks/${task.taskUUID}`, { method: 'DELETE' }), 404, 'taskNotFound'],
      [
        'getResponse',
        () => as(KEY_B, '/v1', { method: 'POST', body: JSON.stringify([{ taskType: 'getResponse', taskUUID: task.taskUUID }]) }),
        404,
        'taskNotFound',
      ],
      [
        'reuse its taskUUID',
        () =>
          as(KEY_B, '/v1', { method: 'POST', body: JSON.stringify([{ ...task, deliveryMethod: 'async', positivePrompt: 'mine now' }]) }),
        200,
        '',
      ],
      [
        'reference its image',
        () => as(KEY_B, '/v1', { method: 'POST', body: JSON.stringify([inference({ inputs: { referenceImages: [imageUUID] } })]) }),
        400,
        'imageNotFound',
      ],
      [
        'reference its upload',
        () => as(KEY_B, '/v1', { method: 'POST', body: JSON.stringify([inference({ inputs: { referenceImages: [mediaUUID] } })]) }),
        400,
        'imageNotFound',
      ],
      [
        'delete its upload',
        () =>
          as(KEY_B, '/v1', {
            method: 'POST',
            body: JSON.stringify([{ taskType: 'mediaStorage', taskUUID: crypto.randomUUID(), operation: 'delete', media: mediaUUID }]),
          }),
        404,
        'mediaNotFound',
      ],
      [
        'replay its delivery',
        () => as(KEY_B, `/v1/webhooks/deliveries/${'webhook'}-${task.taskUUID}-0/replay`, { method: 'POST' }),
        404,
        '',
      ],
    ]
    for (const [name, run, status, code] of checks) {
      const res = await run()
      expect(res.status, name).toBe(status)
      const text = await res.text()
      if (code) expect(text, name).toContain(`"code":"${code}"`)
      expect(text, name).not.toContain(imageUUID)
    }
    // A's task is untouched by all of it.
    const mine = await as(KEY_A, `/v1/tasks/${task.taskUUID}`)
    expect(((await mine.json()) as { data: { status: string } }).data.status).toBe('succeeded')
  })
})

const PNG = Uint8Array.from(atob('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='), (c) =>
  c.charCodeAt(0),
)

describe('Range on /files', () => {
  it.each([
    ['bytes=0-0', 206],
    ['bytes=-1', 206],
    ['bytes=10-', 206],
    ['bytes=0-99999', 206],
    // Past the end, or an empty suffix: nothing to send (RFC 9110 416, with the size).
    ['bytes=99999-', 416],
    ['bytes=-0', 416],
    // Not one valid byte range: the header is ignored and the whole image sent (RFC 9110).
    ['bytes=5-2', 200],
    ['bytes=abc', 200],
    ['bytes=0-1,3-4', 200],
    ['items=0-1', 200],
  ])('%s → %i, never a 5xx', async (range, status) => {
    const key = imageKey('trange', crypto.randomUUID(), 0, 'PNG')
    await env.IMAGES.put(key, PNG, { httpMetadata: { contentType: 'image/png' } })
    const url = new URL(await new UrlSigner(env.SIGNING_SECRET, BASE).fileUrl(key, 600))
    const res = await call(`${url.pathname}${url.search}`, { headers: { range } })
    expect(res.status).toBe(status)
    if (status === 416) {
      expect(res.headers.get('content-range')).toBe(`bytes */${PNG.byteLength}`)
      expect(((await res.json()) as { errors: { code: string }[] }).errors[0]?.code).toBe('invalidRange')
    }
    if (status === 200) expect(new Uint8Array(await res.arrayBuffer())).toEqual(PNG)
  })
})

describe('the storage report (admin only)', () => {
  const storage = (tenant: string, token?: string) =>
    call(`/admin/tenants/${tenant}/storage`, token ? { headers: { authorization: `Bearer ${token}` } } : {})

  it('refuses a client key, a forged token and no token with 401, naming nothing of the tenant', async () => {
    const tenant = await tenantOf(KEY_A)
    for (const token of [KEY_A, `${TEST_SECRETS.ADMIN_TOKEN}x`, undefined]) {
      const res = await storage(tenant, token)
      expect(res.status).toBe(401)
      const text = await res.text()
      expect(JSON.parse(text).errors?.[0]?.code).toBe('invalidAdminToken')
      expect(text).not.toContain(tenant)
    }
  })

  it('refuses a tenant id that is not one with 400 naming `tenant`, and reports an unknown tenant as empty', async () => {
    for (const bad of ['T_UPPER', 'a%2Fb', 'x'.repeat(200)]) {
      const res = await storage(bad, TEST_SECRETS.ADMIN_TOKEN)
      expect(res.status).toBe(400)
      expect(((await res.json()) as { errors: { parameter?: string }[] }).errors[0]?.parameter).toBe('tenant')
    }
    // `..`, spelled or escaped, is resolved away by URL parsing: the path is then no route at all.
    for (const dots of ['..', '%2E%2E']) expect((await storage(dots, TEST_SECRETS.ADMIN_TOKEN)).status).toBe(404)
    const unknown = await storage('tnobodyhere', TEST_SECRETS.ADMIN_TOKEN)
    expect(unknown.status).toBe(200)
    expect(((await unknown.json()) as { data: { images: number; bytesPerImage: number | null } }).data).toMatchObject({
      images: 0,
      bytesPerImage: null,
    })
  })
})

describe('the inputs issues 20 and 21 added', () => {
  const admin = (path: string, init: RequestInit = {}) =>
    call(path, { ...init, headers: { authorization: `Bearer ${TEST_SECRETS.ADMIN_TOKEN}`, 'content-type': 'application/json' } })
  const codeOf = async (res: Response) => ((await res.json()) as { errors: { code: string; parameter?: string }[] }).errors[0]

  it('keeps an admin PATCH or budget PUT small, JSON, and its tenant a tenant id', async () => {
    const { data } = (await (await admin('/admin/keys', { method: 'POST', body: JSON.stringify({ name: 'hostile' }) })).json()) as {
      data: { id: string }
    }
    const huge = await admin(`/admin/keys/${data.id}`, { method: 'PATCH', body: JSON.stringify({ name: 'x'.repeat(40_000) }) })
    expect(huge.status).toBe(413)
    const notJson = await admin(`/admin/keys/${data.id}`, { method: 'PATCH', body: '{"name":' })
    expect(notJson.status).toBe(400)
    const unknownField = await admin(`/admin/keys/${data.id}`, { method: 'PATCH', body: JSON.stringify({ tenant: 'tother' }) })
    expect(unknownField.status).toBe(400)
    expect(await codeOf(unknownField)).toMatchObject({ code: 'unsupportedParameter', parameter: 'tenant' })
    for (const bad of ['T_UPPER', 'x'.repeat(200)]) {
      const res = await admin(`/admin/tenants/${bad}/budget`, { method: 'PUT', body: JSON.stringify({ budgetUSD: 1 }) })
      expect(res.status).toBe(400)
      expect((await codeOf(res))?.parameter).toBe('tenant')
    }
    expect((await as(KEY_A, `/admin/keys/${data.id}`, { method: 'PATCH', body: '{}' })).status).toBe(401)
  })

  it("shows a cursor from another tenant's page nothing of that tenant", async () => {
    const mine = inference()
    expect((await postV1([mine], KEY_A)).status).toBe(200)
    const page = (await (await as(KEY_A, '/v1/tasks?limit=1')).json()) as { nextCursor: string | null; data: { taskUUID: string }[] }
    // A cursor only says where to resume, in the caller's own tasks: B's pages hold none of A's.
    const cursor = page.nextCursor ?? `${Date.now() + 60_000}_${mine.taskUUID}`
    const theirs = (await (await as(KEY_B, `/v1/tasks?limit=100&cursor=${cursor}`)).json()) as { data: { taskUUID: string }[] }
    expect(theirs.data.map((t) => t.taskUUID)).not.toContain(mine.taskUUID)
    expect(JSON.stringify(theirs)).not.toContain(await tenantOf(KEY_A))
  })

  it('ignores an oversized or malformed traceparent, and never answers it with a 5xx', async () => {
    for (const traceparent of ['x'.repeat(8000), '00-zz-yy-01', `01-${'a'.repeat(32)}-${'b'.repeat(16)}-01`]) {
      const res = await as(KEY_A, '/v1', {
        method: 'POST',
        headers: { traceparent },
        body: JSON.stringify([{ taskType: 'ping', ping: true }]),
      })
      expect(res.status).toBe(200)
    }
  })
})
