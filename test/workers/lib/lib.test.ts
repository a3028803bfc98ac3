/** Unit tests for the pure helpers: ids, canonical JSON, backoff, magic bytes, signing. */
import { describe, expect, it } from 'vitest'
import { BoundedCache } from '../../../src/lib/bounded-cache'
import { canonicalJson } from '../../../src/lib/canonical-json'
import { hmacKey, hmacSign, hmacVerify } from '../../../src/lib/crypto'
import { childTaskUUID, UUID_V4 } from '../../../src/lib/ids'
import { sniffImageFormat } from '../../../src/lib/image-type'
import { backoffDelayMs, parseRetryAfterMs } from '../../../src/lib/retry'
import { parseUpstreamBody } from '../../../src/schemas/upstream'

describe('childTaskUUID', () => {
  it('is a deterministic UUID v4 per (tenant, task, index), distinct across each', async () => {
    const task = '39a53ab2-8f31-41d4-a71f-1046162099d0'
    const a0 = await childTaskUUID('ta', task, 0)
    expect(a0).toMatch(UUID_V4)
    expect(await childTaskUUID('ta', task, 0)).toBe(a0)
    expect(await childTaskUUID('ta', task.toUpperCase(), 0)).toBe(a0)
    const others = await Promise.all([
      childTaskUUID('ta', task, 1),
      childTaskUUID('tb', task, 0),
      childTaskUUID('ta', crypto.randomUUID(), 0),
    ])
    expect(new Set([a0, ...others]).size).toBe(4)
  })
})

describe('canonicalJson', () => {
  it('ignores key order and undefined values, but not array order or values', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 2], c: 'x' }, u: undefined })).toBe(canonicalJson({ a: { c: 'x', d: [1, 2] }, b: 1 }))
    expect(canonicalJson({ a: [1, 2] })).not.toBe(canonicalJson({ a: [2, 1] }))
    expect(canonicalJson({ a: 1 })).not.toBe(canonicalJson({ a: '1' }))
  })
})

describe('backoff', () => {
  const policy = { baseDelayMs: 500, maxDelayMs: 8000, jitter: 0.3 }
  it('doubles up to the cap and adds at most the jitter fraction', () => {
    expect([0, 1, 2, 3, 4, 5].map((n) => backoffDelayMs(policy, n, () => 0))).toEqual([500, 1000, 2000, 4000, 8000, 8000])
    expect(backoffDelayMs(policy, 1, () => 1)).toBe(1300)
  })
  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfterMs('3')).toBe(3000)
    expect(parseRetryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6000)
    expect(parseRetryAfterMs('soon')).toBeNull()
    expect(parseRetryAfterMs(null)).toBeNull()
  })
})

describe('sniffImageFormat', () => {
  it('knows JPG, PNG and WEBP by their magic bytes, and nothing else', () => {
    expect(sniffImageFormat(new Uint8Array([0xff, 0xd8, 0xff, 0xdb]))).toBe('JPG')
    expect(sniffImageFormat(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe('PNG')
    expect(sniffImageFormat(new TextEncoder().encode('RIFF\0\0\0\0WEBPVP8 '))).toBe('WEBP')
    expect(sniffImageFormat(new TextEncoder().encode('RIFF\0\0\0\0WAVEfmt '))).toBeNull()
    expect(sniffImageFormat(new TextEncoder().encode('GIF89a......'))).toBeNull()
    expect(sniffImageFormat(new Uint8Array([0xff, 0xd8]))).toBeNull()
  })
})

describe('HMAC keys', () => {
  it('verifies only its own purpose and data', async () => {
    const secret = 'x'.repeat(40)
    const files = await hmacKey(secret, 'files')
    const sig = await hmacSign(files, 'images/a\n100')
    expect(await hmacVerify(files, 'images/a\n100', sig)).toBe(true)
    expect(await hmacVerify(files, 'images/a\n101', sig)).toBe(false)
    expect(await hmacVerify(await hmacKey(secret, 'uploads'), 'images/a\n100', sig)).toBe(false)
    expect(await hmacVerify(files, 'images/a\n100', 'not base64url!')).toBe(false)
    expect(await hmacKey(secret, 'files')).toBe(files)
  })
})

describe('parseUpstreamBody', () => {
  const item = { taskType: 'imageInference', taskUUID: 'u1', imageUUID: 'i1', imageURL: 'https://im.runware.ai/x.jpg', seed: 5, cost: 0.03 }
  it('reads a flat item, {data}, {errors}, legacy {error} objects and arrays, and mixed bodies', () => {
    expect(parseUpstreamBody(item).items).toEqual([item])
    expect(parseUpstreamBody({ data: [item] }).items).toEqual([item])
    expect(parseUpstreamBody({ data: item }).items).toEqual([item])
    const error = { code: 'invalidParameter', message: 'bad', parameter: ['width', 'height'], taskUUID: 'u2' }
    expect(parseUpstreamBody({ errors: [error] }).errors).toEqual([error])
    expect(parseUpstreamBody({ error }).errors).toEqual([error])
    expect(parseUpstreamBody({ error: [error] }).errors).toEqual([error])
    expect(parseUpstreamBody({ data: [item], errors: [error] })).toEqual({ items: [item], errors: [error] })
  })
  it('drops what it cannot read instead of throwing', () => {
    expect(parseUpstreamBody(null)).toEqual({ items: [], errors: [] })
    expect(parseUpstreamBody('text')).toEqual({ items: [], errors: [] })
    expect(parseUpstreamBody({ data: [{ nope: 1 }, item] }).items).toEqual([item])
  })
})

describe('BoundedCache', () => {
  it('computes each key once, and starts over when full', () => {
    const cache = new BoundedCache<number>(2)
    let computed = 0
    const get = (key: string) => cache.get(key, () => ++computed)
    expect([get('a'), get('a'), get('b'), get('a')]).toEqual([1, 1, 2, 1])
    expect(computed).toBe(2)
    // A third key finds the cache full: it is cleared, so 'a' is computed afresh.
    expect([get('c'), get('a')]).toEqual([3, 4])
  })
})
