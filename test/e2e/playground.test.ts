/** Acceptance: the playground in a real browser (Debian's Chromium, driven by playwright-core). */
import { mkdirSync } from 'node:fs'
import { chromium, type Browser, type Response as PageResponse } from 'playwright-core'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import examples from '../fixtures/seed-examples.json' with { type: 'json' }
import { chromiumPath, NO_CHROMIUM } from '../../scripts/preflight.ts'
import { KEY_A, TEST_SECRETS } from '../secrets.ts'
import { createClient } from '../../client/index.ts'
import { emulator, freshKey, gateway } from './helpers.ts'

let browser: Browser

beforeAll(async () => {
  const executablePath = chromiumPath()
  if (!executablePath) throw new Error(NO_CHROMIUM)
  browser = await chromium.launch({
    executablePath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
})
afterAll(async () => browser?.close())

describe('the playground', () => {
  it('generates the neon-alley prompt at 1664×2496 and shows the image; a bad prompt shows the gateway’s error', async () => {
    const page = await browser.newPage()
    const offsite: string[] = []
    page.on('request', (request) => {
      if (!request.url().startsWith(gateway())) offsite.push(request.url())
    })
    // The dev key travels in the fragment, which never reaches a server.
    await page.goto(`${gateway()}/#key=${KEY_A}`)
    await expect.poll(() => page.locator('#size option').count()).toBe(9)
    const prompt = (JSON.parse(examples[0]?.request ?? '{}') as { positivePrompt: string }).positivePrompt
    await page.getByLabel('Prompt').fill(prompt)
    await page.getByLabel('Size').selectOption('1664x2496')
    await page.getByRole('button', { name: 'Generate' }).click()

    const image = page.locator('img[data-testid="result-image"]').first()
    await image.waitFor({ state: 'visible', timeout: 30_000 })
    await expect
      .poll(
        () =>
          image.evaluate(
            (img) =>
              (img as unknown as { complete: boolean; naturalWidth: number }).complete &&
              (img as unknown as { naturalWidth: number }).naturalWidth,
          ),
        { timeout: 30_000 },
      )
      .toBe(1664)
    expect(await image.evaluate((img) => (img as unknown as { naturalHeight: number }).naturalHeight)).toBe(2496)
    expect(await page.locator('figcaption').first().textContent()).toMatch(/seed \d+ · \$0\.03/)
    expect(page.url()).not.toContain('key=')
    mkdirSync('test/artifacts', { recursive: true })
    await page.screenshot({ path: 'test/artifacts/playground.png', fullPage: true })

    await page.getByLabel('Prompt').fill('a')
    await page.getByRole('button', { name: 'Generate' }).click()
    const error = page.getByRole('alert')
    await error.waitFor({ state: 'visible' })
    expect(await error.textContent()).toContain('positivePrompt must be a string of 2 to 3000 characters')
    expect(offsite).toEqual([])
  })

  it('shows a key’s 8 recent results as thumbnails for under a fifth of the originals’ bytes; a click opens one whole', async () => {
    const key = await freshKey('gallery')
    const client = createClient({ baseURL: gateway(), apiKey: key })
    const made = [
      await client.generate({ positivePrompt: 'a gallery of harbours', numberResults: 4, includeCost: true }),
      await client.generate({ positivePrompt: 'a gallery of towers', numberResults: 4, width: 1664, height: 2496, includeCost: true }),
    ]
    const originals = made.flatMap((m) => m.data.map((d) => String(d.imageURL)))
    expect(originals).toHaveLength(8)
    let originalBytes = 0
    for (const url of originals) originalBytes += (await (await fetch(url)).arrayBuffer()).byteLength

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const downloads: Promise<{ url: string; type: string; bytes: number }>[] = []
    // Only the grid's first load is measured. The listener comes off once it has loaded, so no body read is
    // left pending (and rejected unhandled) when the page closes at the end.
    const measure = (response: PageResponse) => {
      if (new URL(response.url()).pathname.startsWith('/files/'))
        downloads.push(
          response.body().then((body) => ({ url: response.url(), type: response.headers()['content-type'] ?? '', bytes: body.length })),
        )
    }
    page.on('response', measure)
    await page.goto(`${gateway()}/#key=${key}`)
    const thumbs = page.locator('img[data-testid="gallery-thumb"]')
    await expect.poll(() => thumbs.count(), { timeout: 20_000 }).toBe(8)
    await page.locator('#gallery').scrollIntoViewIfNeeded()
    const loaded = () =>
      thumbs.evaluateAll(
        (imgs) =>
          (imgs as unknown as { complete: boolean; naturalWidth: number }[]).filter((i) => i.complete && i.naturalWidth === 256).length,
      )
    await expect.poll(loaded, { timeout: 30_000 }).toBe(8)
    page.off('response', measure)

    const seen = await Promise.all(downloads)
    expect(seen).toHaveLength(8)
    for (const d of seen) {
      expect(new URL(d.url).searchParams.get('w')).toBe('256')
      // Chromium takes AVIF, so the gateway sends it.
      expect(d.type).toBe('image/avif')
    }
    const thumbBytes = seen.reduce((sum, d) => sum + d.bytes, 0)
    console.log(
      `gallery: 8 thumbnails ${thumbBytes} B, 8 originals ${originalBytes} B (${((100 * thumbBytes) / originalBytes).toFixed(1)} %)`,
    )
    expect(thumbBytes).toBeLessThanOrEqual(0.2 * originalBytes)

    // Newest first: the towers (1664 × 2496) lead; a click opens the whole image with its seed, size and cost.
    await thumbs.first().click()
    const full = page.locator('img[data-testid="viewer-image"]')
    await expect
      .poll(
        () =>
          full.evaluate((i) => (i as unknown as { complete: boolean }).complete && (i as unknown as { naturalWidth: number }).naturalWidth),
        { timeout: 20_000 },
      )
      .toBe(1664)
    expect(await page.locator('#viewer-caption').textContent()).toMatch(/^seed \d+ · 1664 × 2496 · \$0\.03$/)
    await page.getByRole('button', { name: 'Close' }).click()

    // A result generated here joins the front of the grid when it finishes.
    await page.getByLabel('Prompt').fill('a lantern that joins the gallery')
    await page.getByLabel('Size').selectOption('1664x2496')
    await page.getByRole('button', { name: 'Generate' }).click()
    await expect.poll(() => thumbs.count(), { timeout: 30_000 }).toBe(9)
    const newest = await page.locator('img[data-testid="result-image"]').first().getAttribute('src')
    const front = await thumbs.first().getAttribute('src')
    expect(new URL(front ?? '').pathname).toBe(new URL(newest ?? '').pathname)
    await page.close()
  })

  it('serves the API reference offline, from the gateway itself', async () => {
    const page = await browser.newPage()
    const offsite: string[] = []
    page.on('request', (request) => {
      if (!request.url().startsWith(gateway()) && !request.url().startsWith('data:')) offsite.push(request.url())
    })
    await page.goto(`${gateway()}/docs/`)
    await page.getByText('imagine-edge').first().waitFor({ timeout: 20_000 })
    await expect.poll(() => page.getByText('/v1/tasks/{taskUUID}').count(), { timeout: 20_000 }).toBeGreaterThan(0)
    expect(offsite).toEqual([])
  })

  it('previews a picked reference image, uploads it, and generates from it', async () => {
    const page = await browser.newPage()
    await page.goto(`${gateway()}/#key=${KEY_A}`)
    await page.getByLabel('Reference image').waitFor({ state: 'visible' })
    const png = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 40, b: 90 } } })
      .png()
      .toBuffer()
    await page.getByLabel('Reference image').setInputFiles({ name: 'reference.png', mimeType: 'image/png', buffer: png })
    const preview = page.locator('img[data-testid="reference-preview"]')
    await preview.waitFor({ state: 'visible' })
    await expect.poll(() => preview.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBe(64)

    const marker = `picker-${crypto.randomUUID()}`
    await page.getByLabel('Prompt').fill(`a glass bottle on a sill, ${marker}`)
    await page.getByRole('button', { name: 'Generate' }).click()
    const image = page.locator('img[data-testid="result-image"]').first()
    await image.waitFor({ state: 'visible', timeout: 30_000 })
    // Runware (the emulator) was handed a URL that serves exactly the picked file.
    const requests = (await (await fetch(`${emulator()}/__emulator/requests?match=${marker}`)).json()) as {
      body: { inputs?: { referenceImages?: string[] } }[]
    }[]
    const urls = requests.flatMap((r) => r.body.flatMap((t) => t.inputs?.referenceImages ?? []))
    expect(urls).toHaveLength(1)
    expect(Buffer.from(await (await fetch(urls[0] as string)).arrayBuffer())).toEqual(png)
  })
})

describe('the usage page', () => {
  it('draws, for the admin, one series per key whose bars are the API’s numbers, budget lines, and the key table', async () => {
    const tenant = `t${crypto.randomUUID().replaceAll('-', '').slice(0, 18)}`
    const adminCall = (path: string, init: RequestInit = {}) =>
      fetch(`${gateway()}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${TEST_SECRETS.ADMIN_TOKEN}`, 'content-type': 'application/json' },
      })
    const keys = []
    for (const [name, budgetUSD] of [
      ['web', 0.3],
      ['batch', undefined],
    ] as const) {
      const res = await adminCall('/admin/keys', {
        method: 'POST',
        body: JSON.stringify({ name, tenant, ...(budgetUSD ? { budgetUSD } : {}) }),
      })
      keys.push(((await res.json()) as { data: { id: string; key: string } }).data)
    }
    const [web, batch] = keys as [{ id: string; key: string }, { id: string; key: string }]
    await createClient({ baseURL: gateway(), apiKey: web.key }).generate({ positivePrompt: 'usage web', numberResults: 2 })
    await createClient({ baseURL: gateway(), apiKey: batch.key }).generate({ positivePrompt: 'usage batch', numberResults: 3 })
    const api = (await (await adminCall(`/admin/tenants/${tenant}/usage?groupBy=day,key`)).json()) as {
      data: { groups: { day: string; keyId: string; images: number; costUSD: number }[] }
    }
    expect(api.data.groups).toHaveLength(2)

    const page = await browser.newPage()
    const offsite: string[] = []
    page.on('request', (request) => {
      if (!request.url().startsWith(gateway())) offsite.push(request.url())
    })
    await page.goto(`${gateway()}/usage#admin=${TEST_SECRETS.ADMIN_TOKEN}`)
    await page.locator('#tenant').waitFor({ state: 'visible' })
    await page.locator('#tenant').selectOption(tenant)
    await expect.poll(() => page.locator('#key-rows tr').count(), { timeout: 20_000 }).toBe(2)
    expect(page.url()).not.toContain('admin=')

    // One series per key in each chart, and each bar is the API's number, drawn to scale.
    for (const [chart, measure] of [
      ['#cost-chart', 'costUSD'],
      ['#images-chart', 'images'],
    ] as const) {
      const bars = await page.locator(`${chart} rect`).evaluateAll((rects) =>
        rects.map((r) => ({
          key: r.getAttribute('data-key'),
          day: r.getAttribute('data-day'),
          value: Number(r.getAttribute('data-value')),
          height: Number(r.getAttribute('height')),
        })),
      )
      const svg = page.locator(`${chart} svg`)
      const max = Number(await svg.getAttribute('data-max'))
      const plot = Number(await svg.getAttribute('data-plot-height'))
      expect(new Set(bars.map((b) => b.key))).toEqual(new Set([web.id, batch.id]))
      for (const group of api.data.groups) {
        const bar = bars.find((b) => b.key === group.keyId && b.day === group.day)
        expect(bar?.value).toBeCloseTo(group[measure], 10)
        expect(bar?.height).toBeCloseTo((group[measure] / max) * plot, 3)
      }
    }
    // The budgeted key has its budget line; the other has none.
    expect(await page.locator('#cost-chart line.budget').evaluateAll((ls) => ls.map((l) => l.getAttribute('data-budget-key')))).toEqual([
      web.id,
    ])
    const row = (id: string) => page.locator(`#key-rows tr[data-key="${id}"] td`).allTextContents()
    expect(await row(web.id)).toEqual([`web (${web.id})`, '2', '$0.06', '$0.30 / month', '$0.06', '20 %'])
    expect(await row(batch.id)).toEqual([`batch (${batch.id})`, '3', '$0.09', '—', '—', '—'])
    expect(offsite).toEqual([])
    await page.close()
  })

  it('shows a client key its own tenant', async () => {
    const key = await freshKey('usage-client')
    await createClient({ baseURL: gateway(), apiKey: key }).generate({ positivePrompt: 'usage for a client key' })
    const page = await browser.newPage()
    await page.goto(`${gateway()}/usage#key=${key}`)
    await expect.poll(() => page.locator('#key-rows tr').count(), { timeout: 20_000 }).toBe(1)
    expect(await page.locator('#cost-chart rect').count()).toBe(1)
    expect(await page.locator('#tenant-field').isHidden()).toBe(true)
    await page.close()
  })
})

describe('static pages', () => {
  it('send a CSP with frame protection, nosniff and no referrer; the pages still work under it', async () => {
    for (const path of ['/', '/usage', '/docs/', '/docs/errors']) {
      const res = await fetch(`${gateway()}${path}`)
      expect(res.status).toBe(200)
      const csp = res.headers.get('content-security-policy') ?? ''
      expect(csp).toContain("script-src 'self'")
      expect(csp).toContain("frame-ancestors 'none'")
      expect(res.headers.get('x-content-type-options')).toBe('nosniff')
      expect(res.headers.get('x-frame-options')).toBe('DENY')
      expect(res.headers.get('referrer-policy')).toBe('no-referrer')
    }
    // The browser tests above run the playground and the reference under this policy; none may be refused.
    const page = await browser.newPage()
    const refused: string[] = []
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) refused.push(m.text())
    })
    await page.goto(`${gateway()}/#key=${KEY_A}`)
    await expect.poll(() => page.locator('#size option').count()).toBe(9)
    await page.goto(`${gateway()}/docs/`)
    await page.waitForTimeout(1500)
    expect(refused).toEqual([])
    await page.close()
  })
})

describe('the errors page', () => {
  it("opens at the entry a real error's documentation names", async () => {
    const res = await fetch(`${gateway()}/v1`, { method: 'POST', body: '[]' })
    const [error] = ((await res.json()) as { errors: { code: string; documentation: string }[] }).errors
    expect(error?.documentation).toBe(`${gateway()}/docs/errors#invalidApiKey`)
    const page = await browser.newPage()
    await page.goto(String(error?.documentation))
    const entry = page.locator('section:target')
    await expect.poll(() => entry.getAttribute('id')).toBe('invalidApiKey')
    expect(await entry.isVisible()).toBe(true)
    expect(await entry.textContent()).toContain('Authorization: Bearer')
    await page.close()
  })
})
