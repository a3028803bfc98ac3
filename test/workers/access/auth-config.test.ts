/** Authentication first, configuration errors that name the setting, and secrets that never leak. */
import { env } from 'cloudflare:workers'
import { createExecutionContext } from 'cloudflare:test'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { app } from '../../../src/app'
import { KEY_A, KEY_B, TEST_SECRETS } from '../../secrets'
import { BASE, call, inference, postV1 } from '../helpers'

describe('authentication', () => {
  it('answers 401 before parsing the body: no key, a wrong key, or garbage', async () => {
    for (const [key, body] of [
      [null, '{not json'],
      [null, JSON.stringify([{ taskType: 'ping' }])],
      ['ie_wrong_key_000000000000', '{not json'],
      ['ie_wrong_key_000000000000', JSON.stringify([{ taskType: 'ping' }])],
    ] as const) {
      const res = await postV1(body, key)
      expect(res.status).toBe(401)
      // As Runware's errors page shows it: the parameter and the task type are named, and a page about it.
      expect(res.json.errors).toEqual([
        {
          code: 'invalidApiKey',
          message: expect.any(String),
          parameter: 'apiKey',
          taskType: 'authentication',
          documentation: `${BASE}/docs/errors#invalidApiKey`,
        },
      ])
    }
  })

  it("accepts Runware's in-body authentication task", async () => {
    const ok = await postV1(
      [
        { taskType: 'authentication', apiKey: KEY_B },
        { taskType: 'ping', ping: true },
      ],
      null,
    )
    expect(ok.status).toBe(200)
    expect(ok.json.data).toEqual([{ taskType: 'ping', pong: true }])
    const bad = await postV1([{ taskType: 'authentication', apiKey: 'nope-nope-nope-nope' }, { taskType: 'ping' }], null)
    expect(bad.status).toBe(401)
  })

  it('accepts a single task object as well as an array', async () => {
    const res = await postV1({ taskType: 'ping', ping: true })
    expect(res.json.data).toEqual([{ taskType: 'ping', pong: true }])
  })

  it('protects the resource routes', async () => {
    expect((await call(`/v1/tasks/${crypto.randomUUID()}`)).status).toBe(401)
    expect((await call(`/v1/tasks/${crypto.randomUUID()}`, { method: 'DELETE' })).status).toBe(401)
  })
})

describe('tenancy and deletion', () => {
  it("hides and protects one tenant's task from another, and deletes it for its owner", async () => {
    const body = inference()
    const created = await postV1([body])
    expect(created.status).toBe(200)
    const imageURL = String(created.json.data?.[0]?.imageURL)
    const as = (key: string, method = 'GET') => call(`/v1/tasks/${body.taskUUID}`, { method, headers: { authorization: `Bearer ${key}` } })
    expect((await as(KEY_B)).status).toBe(404)
    expect((await as(KEY_B, 'DELETE')).status).toBe(404)
    expect((await as(KEY_A)).status).toBe(200)
    const image = new URL(imageURL).pathname + new URL(imageURL).search
    expect((await (await call(image)).arrayBuffer()).byteLength).toBeGreaterThan(0) // now in the edge cache too
    await new Promise((r) => setTimeout(r, 50))

    expect((await as(KEY_A, 'DELETE')).status).toBe(200)
    expect((await as(KEY_A)).status).toBe(404)
    expect((await call(image)).status).toBe(404)
    const reuse = await postV1([body])
    expect(reuse.status).toBe(409)
    expect(reuse.json.errors?.[0]?.code).toBe('conflictTaskUUID')
  })
})

describe('configuration', () => {
  const ctx = () => createExecutionContext()
  it('names a missing or bad setting on /healthz and on API calls, without echoing values', async () => {
    const bad = {
      ...env,
      SIGNING_SECRET: undefined,
      SYNC_TIMEOUT_SECONDS: 'soon',
      ENVIRONMENT: 'staging',
      ADMIN_TOKEN: 'short-admin-token',
    }
    const health = await app.fetch(new Request('http://gw/healthz'), bad, ctx())
    expect(health.status).toBe(503)
    const problems = ((await health.json()) as { problems: string[] }).problems.join('\n')
    expect(problems).toContain('SIGNING_SECRET is required')
    expect(problems).toContain('SYNC_TIMEOUT_SECONDS')
    expect(problems).toContain('ENVIRONMENT must be one of development, production')
    expect(problems).not.toContain('staging')
    // The admin token guards every key: a guessable one is refused, and never echoed.
    expect(problems).toContain('ADMIN_TOKEN must be at least 32 characters')
    expect(problems).not.toContain('short-admin-token')

    const api = await app.fetch(new Request('http://gw/v1', { method: 'POST', body: '[]' }), bad, ctx())
    expect(api.status).toBe(503)
    const text = await api.text()
    expect(text).toContain('SIGNING_SECRET')
    expect(text).not.toContain(TEST_SECRETS.RUNWARE_API_KEY)
  })

  it('reports a healthy configuration; without an R2 account or endpoint, uploads go through the Worker', async () => {
    const res = await call('/healthz')
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ status: 'ok', uploadMode: 'worker' })
  })

  it('refuses a webhook retry cap below the first retry delay', async () => {
    const bad = { ...env, WEBHOOK_RETRY_BASE_SECONDS: '60', WEBHOOK_RETRY_MAX_SECONDS: '30' }
    const health = await app.fetch(new Request('http://gw/healthz'), bad, ctx())
    expect(health.status).toBe(503)
    expect(((await health.json()) as { problems: string[] }).problems).toContain(
      'WEBHOOK_RETRY_MAX_SECONDS must be at least WEBHOOK_RETRY_BASE_SECONDS',
    )
  })

  it('refuses UPLOAD_MODE r2-presigned without S3 credentials, naming them', async () => {
    const bad = { ...env, UPLOAD_MODE: 'r2-presigned', R2_ACCESS_KEY_ID: '', R2_ACCOUNT_ID: 'acct' }
    const health = await app.fetch(new Request('http://gw/healthz'), bad, ctx())
    expect(health.status).toBe(503)
    expect(((await health.json()) as { problems: string[] }).problems).toContain(
      'R2_ACCESS_KEY_ID is required when UPLOAD_MODE is r2-presigned',
    )
  })
})

describe('secrets', () => {
  afterEach(() => vi.restoreAllMocks())
  it('never appear in responses or log lines, on success or failure', async () => {
    const lines: string[] = []
    for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(' ')))
    }
    const texts: string[] = []
    const record = async (res: Response) => texts.push(JSON.stringify([...res.headers]) + (await res.text()))
    await record(
      await call('/v1', {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY_A}` },
        body: JSON.stringify([inference({ numberResults: 2 })]),
      }),
    )
    await record(
      await call('/v1', { method: 'POST', headers: { authorization: `Bearer ${KEY_A}` }, body: JSON.stringify([inference({ width: 3 })]) }),
    )
    await record(await call('/v1', { method: 'POST', body: 'garbage' }))
    await record(await call('/healthz'))
    await record(await call('/v1/models'))
    const everything = [...texts, ...lines].join('\n')
    expect(texts.join()).toContain('imageURL')
    for (const secret of Object.values(TEST_SECRETS)) {
      if (secret.includes(',')) for (const key of secret.split(',')) expect(everything).not.toContain(key)
      else expect(everything).not.toContain(secret)
    }
  })
})

describe('CORS', () => {
  it('answers preflights only for the configured origins', async () => {
    const withCors = { ...env, CORS_ORIGINS: 'https://app.example' }
    const preflight = (origin: string) =>
      app.fetch(
        new Request('http://gw/v1', {
          method: 'OPTIONS',
          headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
        }),
        withCors,
        createExecutionContext(),
      )
    const allowed = await preflight('https://app.example')
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example')
    const other = await preflight('https://evil.example')
    expect(other.headers.get('access-control-allow-origin')).toBeNull()
    const none = await call('/v1', {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
    })
    expect(none.headers.get('access-control-allow-origin')).toBeNull()
  })
})
