/** Forged, expired and borrowed signatures on every signed route, and a SIGNING_SECRET rotation that breaks nothing. */
import { env } from 'cloudflare:workers'
import { createExecutionContext } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { app } from '../../../src/app'
import { WebhookSecrets } from '../../../src/deliveries/webhook-secrets'
import { UrlSigner } from '../../../src/images/url-signer'
import { imageKey } from '../../../src/lib/storage-keys'
import { BASE, call } from '../helpers'

const PNG = Uint8Array.from(atob('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='), (c) =>
  c.charCodeAt(0),
)
const OLD_SECRET = 'the-secret-before-the-rotation-0123456789'
const path = (url: string) => {
  const u = new URL(url)
  return `${u.pathname}${u.search}`
}

async function stored(): Promise<string> {
  const key = imageKey('tsigned', crypto.randomUUID(), 0, 'PNG')
  await env.IMAGES.put(key, PNG, { httpMetadata: { contentType: 'image/png' } })
  return key
}

describe('signed routes refuse what they did not sign', () => {
  it('/files: a forged, tampered, expired, unsigned or cross-purpose URL is 403 with its code', async () => {
    const key = await stored()
    const signer = new UrlSigner(env.SIGNING_SECRET, BASE)
    const good = new URL(await signer.fileUrl(key, 600))
    expect((await call(path(good.href))).status).toBe(200)
    const variants: [string, string, string][] = [
      ['no signature', `${good.pathname}?exp=${good.searchParams.get('exp')}`, 'invalidSignature'],
      ['no expiry', `${good.pathname}?sig=${good.searchParams.get('sig')}`, 'invalidSignature'],
      ['a forged signature', `${good.pathname}?exp=${good.searchParams.get('exp')}&sig=${'A'.repeat(43)}`, 'invalidSignature'],
      [
        'a later expiry',
        `${good.pathname}?exp=${Number(good.searchParams.get('exp')) + 3600}&sig=${good.searchParams.get('sig')}`,
        'invalidSignature',
      ],
      ['an expiry past 10^12', `${good.pathname}?exp=9999999999999&sig=${good.searchParams.get('sig')}`, 'invalidSignature'],
      ['another key', `${good.pathname.replace('/0.png', '/1.png')}${good.search}`, 'invalidSignature'],
      ['an upload signature', path(await signer.uploadUrl(key, 600)).replace('/uploads/', '/files/'), 'invalidSignature'],
      ['an expired URL', path(await signer.fileUrl(key, 60, Date.now() - 3_600_000)), 'signatureExpired'],
      ['a signature by another secret', path(await new UrlSigner(OLD_SECRET, BASE).fileUrl(key, 600)), 'invalidSignature'],
    ]
    for (const [name, url, code] of variants) {
      const res = await call(url)
      expect(res.status, name).toBe(403)
      expect(((await res.json()) as { errors: { code: string }[] }).errors[0]?.code, name).toBe(code)
    }
  })

  it('/uploads: a forged, expired or file-purpose URL is 403, and nothing is stored', async () => {
    const key = imageKey('tsigned', crypto.randomUUID(), 0, 'PNG')
    const signer = new UrlSigner(env.SIGNING_SECRET, BASE)
    const put = (url: string) => call(url, { method: 'PUT', body: PNG })
    const good = new URL(await signer.uploadUrl(key, 600))
    for (const url of [
      `${good.pathname}?exp=${good.searchParams.get('exp')}&sig=${'B'.repeat(43)}`,
      path(await signer.uploadUrl(key, 60, Date.now() - 3_600_000)),
      path(await signer.fileUrl(key, 600)).replace('/files/', '/uploads/'),
    ]) {
      expect((await put(url)).status).toBe(403)
    }
    expect(await env.IMAGES.head(key)).toBeNull()
  })

  it("/webhooks/runware: no token, a forged token, or another result's token is 401", async () => {
    const signer = new UrlSigner(env.SIGNING_SECRET, BASE)
    const url = new URL(await signer.runwareWebhookUrl('tsigned', crypto.randomUUID(), 0, 'JPG'))
    const other = new URL(await signer.runwareWebhookUrl('tsigned', crypto.randomUUID(), 1, 'JPG'))
    const post = (p: string) => call(p, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    for (const p of [url.pathname, `${url.pathname}?token=${'C'.repeat(43)}`, `${url.pathname}?token=${other.searchParams.get('token')}`]) {
      const res = await post(p)
      expect(res.status).toBe(401)
      expect(((await res.json()) as { errors: { code: string }[] }).errors[0]?.code).toBe('invalidWebhookToken')
    }
  })
})

describe('rotating SIGNING_SECRET', () => {
  it('keeps URLs signed with the previous secret working while SIGNING_SECRET_PREVIOUS names it, and only then', async () => {
    const key = await stored()
    const oldUrl = await new UrlSigner(OLD_SECRET, BASE).fileUrl(key, 600)
    const fetchWith = (vars: Record<string, string | undefined>) =>
      app.fetch(new Request(`${BASE}${path(oldUrl)}`), { ...env, ...vars }, createExecutionContext())
    expect((await fetchWith({ SIGNING_SECRET_PREVIOUS: OLD_SECRET })).status).toBe(200)
    expect((await fetchWith({ SIGNING_SECRET_PREVIOUS: undefined })).status).toBe(403)
    // A Runware webhook token made before the rotation still verifies; a new one is signed with the new secret.
    const signer = new UrlSigner(env.SIGNING_SECRET, BASE, OLD_SECRET)
    const before = new URL(await new UrlSigner(OLD_SECRET, BASE).runwareWebhookUrl('tsigned', crypto.randomUUID(), 0, 'JPG'))
    const webhookPath = before.pathname.slice('/webhooks/runware/'.length)
    expect(await signer.checkRunwareWebhook(webhookPath, before.searchParams.get('token') ?? '')).toBe(true)
    expect(await new UrlSigner(env.SIGNING_SECRET, BASE).checkRunwareWebhook(webhookPath, before.searchParams.get('token') ?? '')).toBe(
      false,
    )
    // Client webhooks: events also carry a signature by the secret each tenant's client still holds.
    const rotating = await new WebhookSecrets(env.SIGNING_SECRET, env.TASKS, OLD_SECRET).forTenant('tsigned')
    const held = await new WebhookSecrets(OLD_SECRET, env.TASKS).forTenant('tsigned')
    expect(rotating.beforeRotation).toEqual(held.current.secret)
    expect(rotating.current.secret).not.toEqual(held.current.secret)
  })
})
