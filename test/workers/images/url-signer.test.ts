/** The signer itself: what a signed URL's holder is told when it fails, at the edge of its expiry. */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { UrlSigner } from '../../../src/images/url-signer'
import { hmacKey } from '../../../src/lib/crypto'
import { ApiError } from '../../../src/lib/errors'
import { BASE } from '../helpers'

const KEY = 'images/tsigner/00000000-0000-4000-8000-000000000001/0.png'
const signer = new UrlSigner(env.SIGNING_SECRET, BASE)

/** What signedKey throws for `url` at `now`, as the 403's code and message. */
async function refusalOf(purpose: 'files' | 'uploads', url: string, now = Date.now()) {
  const error = await signer.signedKey(purpose, new URL(url), now).catch((e: unknown) => e)
  expect(error).toBeInstanceOf(ApiError)
  expect((error as ApiError).status).toBe(403)
  const { code, message } = (error as ApiError).detail
  return { code, message }
}

const withParam = (url: string, name: string, value: string | null) => {
  const u = new URL(url)
  if (value === null) u.searchParams.delete(name)
  else u.searchParams.set(name, value)
  return u.href
}

describe('UrlSigner.signedKey', () => {
  it('accepts an image URL through the last millisecond of its expiry, and then says it expired and how to fix it', async () => {
    const url = await signer.fileUrl(KEY, 60)
    const exp = Number(new URL(url).searchParams.get('exp'))
    expect(await signer.signedKey('files', new URL(url), exp * 1000)).toEqual({ key: KEY, exp })
    expect(await refusalOf('files', url, exp * 1000 + 1)).toEqual({
      code: 'signatureExpired',
      message: 'This image URL has expired; fetch the task again for a fresh one',
    })
  })

  it('refuses a tampered, missing or malformed signature or expiry as not valid, without saying whether it expired', async () => {
    const url = await signer.fileUrl(KEY, 60)
    const invalid = { code: 'invalidSignature', message: 'This image URL is not valid' }
    const exp = new URL(url).searchParams.get('exp')!
    for (const bad of [
      withParam(url, 'sig', null),
      withParam(url, 'exp', null),
      withParam(url, 'sig', '!!'),
      withParam(url, 'sig', 'AAAA'),
      withParam(url, 'exp', String(Number(exp) + 300)),
      withParam(url, 'exp', `${exp}0`),
    ]) {
      expect(await refusalOf('files', bad)).toEqual(invalid)
      // Long expired, and still only "not valid": a forged URL learns nothing of its expiry.
      expect(await refusalOf('files', bad, Date.now() + 86_400_000)).toEqual(invalid)
    }
  })

  it('tells the holder of an upload URL only that it is not valid, expired or forged', async () => {
    const url = await signer.uploadUrl(KEY, 60)
    const exp = Number(new URL(url).searchParams.get('exp'))
    expect(await signer.signedKey('uploads', new URL(url), exp * 1000)).toEqual({ key: KEY, exp })
    const message = 'This upload URL is not valid'
    expect(await refusalOf('uploads', url, exp * 1000 + 1)).toEqual({ code: 'signatureExpired', message })
    expect(await refusalOf('uploads', withParam(url, 'sig', 'AAAA'))).toEqual({ code: 'invalidSignature', message })
  })
})

describe('signing keys', () => {
  it('derives keys that cannot be exported, and a webhook token only for its own path', async () => {
    expect((await hmacKey(env.SIGNING_SECRET, 'files')).extractable).toBe(false)
    const url = new URL(await signer.runwareWebhookUrl('tsigner', crypto.randomUUID(), 0, 'JPG'))
    const path = url.pathname.slice('/webhooks/runware/'.length)
    const token = url.searchParams.get('token')!
    expect(await signer.checkRunwareWebhook(path, token)).toBe(true)
    expect(await signer.checkRunwareWebhook(path.replace('/0.', '/1.'), token)).toBe(false)
    expect(await signer.checkRunwareWebhook(path, undefined)).toBe(false)
  })
})
