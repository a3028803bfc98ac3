/**
 * Acceptance: thumbnails of a generated 1664×2496 JPG in the format the browser takes, decoded
 * with sharp; and the typed client's variantURL() and listTasks() against the gateway under wrangler dev.
 */
import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import { createClient, variantURL } from '../../client/index.ts'
import { KEY_A } from '../secrets.ts'
import { freshKey, gateway } from './helpers.ts'

describe('image variants over HTTP', () => {
  it('serves w=256 as AVIF, WebP or the original JPEG by Accept: 256×384, Vary: Accept, own ETags, 304', async () => {
    const client = createClient({ baseURL: gateway(), apiKey: KEY_A })
    const { data } = await client.generate({
      positivePrompt: 'a tall lighthouse for thumbnails',
      width: 1664,
      height: 2496,
      outputFormat: 'JPG',
    })
    const imageURL = String(data[0]?.imageURL)
    const original = await fetch(imageURL)
    expect(await sharp(Buffer.from(await original.arrayBuffer())).metadata()).toMatchObject({ format: 'jpeg', width: 1664, height: 2496 })
    const thumbnail = variantURL(imageURL, { w: 256 })
    expect(new URL(thumbnail).searchParams.get('sig')).toBe(new URL(imageURL).searchParams.get('sig'))

    const etags = new Set([original.headers.get('etag')])
    for (const [accept, type, format] of [
      ['image/avif,image/webp,image/apng,*/*;q=0.8', 'image/avif', 'heif'],
      ['image/webp,*/*', 'image/webp', 'webp'],
      ['*/*', 'image/jpeg', 'jpeg'],
    ] as const) {
      const res = await fetch(thumbnail, { headers: { accept } })
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe(type)
      expect(res.headers.get('vary')).toBe('Accept')
      const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata()
      expect(meta).toMatchObject({ format, width: 256, height: 384 })
      if (format === 'heif') expect(meta.compression).toBe('av1')
      const etag = res.headers.get('etag') ?? ''
      etags.add(etag)
      const again = await fetch(thumbnail, { headers: { accept, 'if-none-match': etag } })
      expect(again.status).toBe(304)
    }
    expect(etags.size).toBe(4)

    const wrongWidth = await fetch(variantURL(imageURL, { w: 300 }))
    expect(wrongWidth.status).toBe(400)
    expect(((await wrongWidth.json()) as { errors: { parameter: string }[] }).errors[0]?.parameter).toBe('w')
  })

  it('lists a tenant’s tasks page by page with listTasks()', async () => {
    const client = createClient({ baseURL: gateway(), apiKey: await freshKey('variants-list') })
    const made: string[] = []
    for (let i = 0; i < 3; i += 1) made.push((await client.generate({ positivePrompt: `a listed harbour ${i}` })).taskUUID)
    const pages = []
    for await (const page of client.listTasks({ limit: 2 })) pages.push(page)
    expect(pages.map((p) => p.data.length)).toEqual([2, 1])
    expect(pages.flatMap((p) => p.data.map((t) => t.taskUUID))).toEqual(made.reverse())
    expect(pages.at(-1)?.nextCursor).toBeNull()
  })
})
