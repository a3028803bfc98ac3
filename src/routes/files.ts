/**
 * GET/HEAD /files/{key}?exp&sig[&w][&format] — signed, streamed image delivery from R2 and the
 * edge cache: the original, or a resized variant of it (src/images/variants.ts), served alike.
 */
import { Hono, type Context } from 'hono'
import type { AppEnv } from '../app-env'
import { ApiError } from '../lib/errors'
import { CONTENT_TYPES, EXTENSIONS, type ImageFormat } from '../lib/image-type'
import { negotiate, variantAsk, variantsUnavailable, variantType } from '../images/variants'
import { services } from './middleware'

/**
 * The one byte range a Range header asks for, or null when it is to be ignored (RFC 9110: an
 * unknown unit, bad syntax, a first byte past the last, or several ranges; the whole image is sent).
 */
function requestedRange(header: string | null): R2Range | null {
  const match = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null
  if (!match || (match[1] === '' && match[2] === '')) return null
  const [first, last] = [match[1] === '' ? null : Number(match[1]), match[2] === '' ? null : Number(match[2])]
  if (first === null) return { suffix: last ?? 0 }
  if (last === null) return { offset: first }
  return first <= last ? { offset: first, length: last - first + 1 } : null
}

/** Whether no byte of an image of `size` bytes is in `range` (416). */
function unsatisfiable(range: R2Range, size: number): boolean {
  const { offset, suffix } = range as { offset?: number; suffix?: number }
  return suffix === 0 || (offset !== undefined && offset >= size)
}

const notSatisfiable = (size: number | undefined) =>
  new ApiError(
    416,
    { code: 'invalidRange', message: 'The Range header asks for no byte of this image' },
    size === undefined ? {} : { 'content-range': `bytes */${size}` },
  )

/** The byte span R2 returned for a ranged read. */
function span(range: R2Range, size: number): { offset: number; length: number } {
  // R2 sets every field, some to undefined, so `in` checks would mislead.
  const { offset, length, suffix } = range as { offset?: number; length?: number; suffix?: number }
  if (suffix !== undefined) return { offset: size - suffix, length: suffix }
  return { offset: offset ?? 0, length: length ?? size - (offset ?? 0) }
}

/** The headers that keep any stored bytes inert: never sniffed, never run, never framed with script. */
const INERT_HEADERS = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; sandbox",
}

/**
 * The type an image is served as: from its key's extension (a result's key names its format),
 * else the type the gateway stored from its magic bytes; never a type an uploader chose.
 */
function servedType(key: string, stored: string | undefined): string {
  const byExtension = variantType(key) ?? EXTENSION_TYPES[key.slice(key.lastIndexOf('.') + 1)]
  if (byExtension) return byExtension
  return stored && IMAGE_TYPES.has(stored) ? stored : 'application/octet-stream'
}
const EXTENSION_TYPES: Record<string, string> = Object.fromEntries(
  (Object.keys(EXTENSIONS) as ImageFormat[]).map((format) => [EXTENSIONS[format], CONTENT_TYPES[format]]),
)
const IMAGE_TYPES = new Set(Object.values(CONTENT_TYPES))

const imageNotFound = () => new ApiError(404, { code: 'imageNotFound', message: 'No image at this URL' })

/**
 * The object at `key`, as a signed URL expiring at `exp` serves it: from the edge cache or R2,
 * whole or ranged, or 304; null when there is no such object.
 */
async function serve(c: Context<AppEnv>, key: string, exp: number, extra: Record<string, string>): Promise<Response | null> {
  const { cache, images } = services(c)
  const request = c.req.raw.headers
  // Hono runs GET handlers for HEAD; skip the body read then.
  const isHead = c.req.raw.method === 'HEAD'
  const range = requestedRange(request.get('range'))
  const ranged = range !== null
  // Never cacheable past the signature's expiry.
  const headers = new Headers({
    'cache-control': `private, max-age=${Math.max(0, exp - Math.floor(Date.now() / 1000))}`,
    'accept-ranges': 'bytes',
    ...extra,
  })
  const respond = (etag: string, status: number, body: ReadableStream | null, meta: Record<string, string>) => {
    headers.set('etag', etag)
    for (const [name, value] of Object.entries(meta)) headers.set(name, value)
    const notModified = request
      .get('if-none-match')
      ?.split(/\s*,\s*/)
      .includes(etag)
    if (notModified) {
      void body?.cancel()
      return new Response(null, { status: 304, headers })
    }
    return new Response(isHead ? null : body, { status, headers })
  }

  const hit = isHead || ranged ? undefined : await cache.match(key)
  if (hit) {
    return respond(hit.headers.get('etag') ?? '', 200, hit.body, {
      'content-type': servedType(key, hit.headers.get('content-type') ?? undefined),
      'content-length': hit.headers.get('content-length') ?? '',
    })
  }

  // Only If-None-Match is passed on, so a body-less answer from R2 always means 304.
  const ifNoneMatch = request.get('if-none-match')
  const onlyIf = ifNoneMatch ? new Headers({ 'if-none-match': ifNoneMatch }) : undefined
  let object: R2Object | R2ObjectBody | null
  try {
    object = isHead ? await images.head(key) : await images.get(key, { onlyIf, ...(range ? { range } : {}) })
  } catch {
    // R2 refuses a range past the end; the answer names the size, as RFC 9110 asks.
    const size = (await images.head(key))?.size
    throw notSatisfiable(size)
  }
  if (!object) return null
  const meta = { 'content-type': servedType(key, object.httpMetadata?.contentType), 'content-length': String(object.size) }
  if (isHead || !('body' in object)) return respond(object.httpEtag, 200, null, meta)
  const body = object as R2ObjectBody
  // R2 reports a range on every read; only a requested one makes a 206.
  if (!ranged || !body.range)
    return respond(
      body.httpEtag,
      200,
      cache.fill(key, body, (p) => c.executionCtx.waitUntil(p)),
      meta,
    )
  if (unsatisfiable(range, body.size)) {
    await body.body.cancel()
    throw notSatisfiable(body.size)
  }
  const { offset, length } = span(body.range, body.size)
  return respond(body.httpEtag, 206, body.body, {
    ...meta,
    'content-range': `bytes ${offset}-${offset + length - 1}/${body.size}`,
    'content-length': String(length),
  })
}

export const fileRoutes = new Hono<AppEnv>()
  .use('*', async (c, next) => {
    await next()
    // Errors too: every answer on this origin's file path is inert.
    for (const [name, value] of Object.entries(INERT_HEADERS)) c.res.headers.set(name, value)
  })
  .get('/*', async (c) => {
    const { signer, variants, config } = services(c)
    const url = new URL(c.req.url)
    // The signature first: a forged or expired URL learns nothing, whatever else it asks.
    const { key, exp } = await signer.signedKey('files', url)
    const ask = variantAsk(url, config.IMAGE_VARIANT_WIDTHS)
    if (!ask) {
      const served = await serve(c, key, exp, {})
      if (!served) throw imageNotFound()
      return served
    }
    if (!variants.available) throw variantsUnavailable()
    const original = ask.format ?? (await variants.originalFormat(key))
    if (!original) throw imageNotFound()
    const format = ask.format ?? negotiate(c.req.header('accept') ?? null, original)
    // A negotiated format differs by Accept, so caches must keep one copy per Accept.
    const extra: Record<string, string> = ask.format ? {} : { vary: 'Accept' }
    const variant = variants.key(key, ask.width, format)
    // Made on the first request only; a concurrent first request stores the same variant, once.
    const served =
      (await serve(c, variant, exp, extra)) ??
      ((await variants.make(key, variant, ask.width, format)) ? await serve(c, variant, exp, extra) : null)
    if (!served) throw imageNotFound()
    return served
  })
