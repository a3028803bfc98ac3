/** One SSRF policy for every URL a client names, tested as a table, and no redirect followed. */
import { env } from 'cloudflare:workers'
import { createExecutionContext } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { inject } from 'vitest'
import worker from '../../../src/index'
import { MAX_TARGET_URL_LENGTH, unsafeTargetReason } from '../../../src/lib/url-safety'
import { KEY_A } from '../../secrets'
import { requireConfig } from '../../../src/config/config'
import { ApiError } from '../../../src/lib/errors'
import { buildServices } from '../../../src/services'
import { BASE, inference } from '../helpers'

const REFUSED = [
  // localhost, spelled every way a host name can be
  'https://localhost/',
  'https://localhost./',
  'https://LOCALHOST/',
  'https://LocalHost../',
  'https://api.localhost/',
  // IPv4 special-purpose ranges (IANA registry), and the forms URL parsing normalizes
  'https://0.0.0.0/',
  'https://10.0.0.1/',
  'https://100.64.0.1/',
  'https://127.0.0.1/',
  'https://127.0.0.1./',
  'https://127.1/',
  'https://0x7f000001/',
  'https://2130706433/',
  'https://169.254.169.254/latest/meta-data',
  'https://172.16.0.1/',
  'https://172.31.255.255/',
  'https://192.0.0.1/',
  'https://192.0.0.170/',
  'https://192.0.2.1/',
  'https://192.31.196.1/',
  'https://192.52.193.1/',
  'https://192.88.99.1/',
  'https://192.168.0.1/',
  'https://192.175.48.1/',
  'https://198.18.0.1/',
  'https://198.19.255.255/',
  'https://198.51.100.1/',
  'https://203.0.113.1/',
  'https://224.0.0.1/',
  'https://239.255.255.250/',
  'https://240.0.0.1/',
  'https://255.255.255.255/',
  // IPv6, and every IPv6 form that embeds an IPv4 address
  'https://[::]/',
  'https://[::1]/',
  'https://[::7f00:1]/',
  'https://[::127.0.0.1]/',
  'https://[::ffff:127.0.0.1]/',
  'https://[::ffff:7f00:1]/',
  'https://[::ffff:0:7f00:1]/',
  'https://[64:ff9b::7f00:1]/',
  'https://[64:ff9b::808:808]/',
  'https://[2002:7f00:1::]/',
  'https://[2001::1]/',
  'https://[2001:db8::1]/',
  'https://[100::1]/',
  'https://[fc00::1]/',
  'https://[fd12:3456::1]/',
  'https://[fe80::1]/',
  'https://[ff02::1]/',
]

const ALLOWED = [
  'https://example.com/hook',
  'https://8.8.8.8/hook',
  'https://[2001:4860:4860::8888]/hook',
  'https://localhost.example.com/hook',
]

describe('the SSRF policy', () => {
  it.each(REFUSED)('refuses %s', (url) => {
    expect(unsafeTargetReason(url, false)).toMatch(/localhost|special-purpose/)
    // Development lets a webhook reach this machine's loopback, and nothing else of these.
    const loopback = /^https:\/\/(localhost|127\.0\.0\.1|\[::1\])\/$/.test(new URL(url).href)
    if (!loopback) expect(unsafeTargetReason(url, true)).toMatch(/localhost|special-purpose/)
  })

  it.each(ALLOWED)('allows %s', (url) => expect(unsafeTargetReason(url, false)).toBeNull())

  // A developer's own machine: its loopback, over http or https, in development only.
  it.each([
    'http://localhost:8787/hook',
    'http://127.0.0.1/hook',
    'http://[::1]:3000/hook',
    'https://localhost/',
    'https://127.0.0.1/',
    'https://[::1]/',
  ])('allows %s in development only', (url) => {
    expect(unsafeTargetReason(url, true)).toBeNull()
    expect(unsafeTargetReason(url, false)).toMatch(url.startsWith('http:') ? /only in development/ : /localhost|special-purpose/)
  })

  it('refuses a URL that is not absolute, or longer than the limit, naming why', () => {
    for (const raw of ['/hook', 'example.com/hook', ''])
      for (const development of [false, true]) expect(unsafeTargetReason(raw, development)).toBe('is not an absolute URL')
    const base = 'https://example.com/'
    const longest = base + 'a'.repeat(MAX_TARGET_URL_LENGTH - base.length)
    expect(unsafeTargetReason(longest, false)).toBeNull()
    expect(unsafeTargetReason(longest + 'a', false)).toBe(`is longer than ${MAX_TARGET_URL_LENGTH} characters`)
  })

  it('applies to every URL a client names, refusing before anything is dispatched', async () => {
    const production = { ...env, ENVIRONMENT: 'production' }
    const target = 'https://[64:ff9b::7f00:1]/x'
    const send = (task: Record<string, unknown>) =>
      worker.fetch(
        new Request('http://gw/v1', { method: 'POST', headers: { authorization: `Bearer ${KEY_A}` }, body: JSON.stringify([task]) }),
        production,
        createExecutionContext(),
      )
    const cases: [Record<string, unknown>, string, string][] = [
      [inference({ webhookURL: target }), 'invalidWebhookURL', 'webhookURL'],
      [inference({ uploadEndpoint: target }), 'invalidUploadEndpoint', 'uploadEndpoint'],
      [inference({ inputs: { referenceImages: [target] } }), 'invalidImage', 'inputs.referenceImages[0]'],
      [{ taskType: 'imageUpload', taskUUID: crypto.randomUUID(), image: target }, 'invalidImage', 'image'],
      [{ taskType: 'mediaStorage', taskUUID: crypto.randomUUID(), operation: 'upload', media: target }, 'invalidImage', 'media'],
    ]
    for (const [task, code, parameter] of cases) {
      const res = await send(task)
      expect(res.status).toBe(400)
      expect(((await res.json()) as { errors: unknown[] }).errors[0]).toMatchObject({ code, parameter })
    }
  })

  // The policy checks the URL a client named; a redirect would lead somewhere it never checked.
  it('follows no redirect from a URL a client named', async () => {
    const receiver = inject('receiverUrl')
    const target = `/target/${crypto.randomUUID()}`
    const image = `${receiver}/redirect/x?to=${encodeURIComponent(`${receiver}${target}`)}`
    const { library } = buildServices(env, requireConfig(env), { origin: BASE, waitUntil: () => undefined })
    const refused = await library.fetchAndStore('thostile', crypto.randomUUID(), image, 1024 * 1024).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(ApiError)
    expect((refused as ApiError).detail).toMatchObject({ code: 'invalidImage', parameter: 'image' })
    expect((refused as ApiError).detail.message).toContain('redirects are not followed')
    const reached = (await (await fetch(`${receiver}/__received?path=${target}`)).json()) as unknown[]
    expect(reached).toEqual([])
  })

  it.each(['http://example.com/hook', 'ftp://example.com/hook', 'https://user:pass@example.com/hook', 'https://user@example.com/hook'])(
    'refuses %s: https only, no credentials, in production and in development',
    (url) => {
      expect(unsafeTargetReason(url, false)).toMatch(/https|credentials/)
      expect(unsafeTargetReason(url, true)).toMatch(/https|credentials/)
    },
  )
})
