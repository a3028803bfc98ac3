/**
 * Resized and re-encoded copies of signed images (`&w=256`, `&format=avif`), made with Cloudflare's
 * Images binding. `w` must be one of IMAGE_VARIANT_WIDTHS: that bounds what transforming can cost,
 * so `w` needs no signature of its own (the URL's signature still decides access and expiry).
 * Each variant is made once, on its first request, and kept in R2 beside its image's key
 * (storage-keys.ts), so a popular thumbnail is transformed once, not once per colo or reader.
 */
import { ApiError } from '../lib/errors'
import { variantKey } from '../lib/storage-keys'
import type { ImageStore } from './image-store'

export const VARIANT_FORMATS = ['avif', 'webp', 'jpeg', 'png'] as const
export type VariantFormat = (typeof VARIANT_FORMATS)[number]

const CONTENT_TYPES = { avif: 'image/avif', webp: 'image/webp', jpeg: 'image/jpeg', png: 'image/png' } as const
const EXTENSIONS: Record<VariantFormat, string> = { avif: 'avif', webp: 'webp', jpeg: 'jpg', png: 'png' }
const BY_TYPE = new Map<string, VariantFormat>(VARIANT_FORMATS.map((f) => [CONTENT_TYPES[f], f]))

/** The content type of a variant's key, by its extension; undefined for any other key. */
export function variantType(key: string): string | undefined {
  if (!key.startsWith('variants/')) return undefined
  const format = VARIANT_FORMATS.find((f) => key.endsWith(`.${EXTENSIONS[f]}`))
  return format && CONTENT_TYPES[format]
}

/** What a variant request asks for: a width from the list and/or a format, which Accept decides when absent. */
export interface VariantAsk {
  width?: number
  format?: VariantFormat
}

const invalid = (parameter: string, message: string, allowedValues: readonly (string | number)[]) =>
  new ApiError(400, { code: 'invalidParameter', message, parameter, allowedValues: [...allowedValues] })

/** The variant a URL asks for, or null when it asks for the original (no `w`, no `format`). */
export function variantAsk(url: URL, widths: readonly number[]): VariantAsk | null {
  const w = url.searchParams.getAll('w')
  const format = url.searchParams.getAll('format')
  if (!w.length && !format.length) return null
  const width = w.length === 1 && /^\d{1,5}$/.test(w[0] ?? '') ? Number(w[0]) : NaN
  if (w.length && !widths.includes(width)) throw invalid('w', `w must be one of ${widths.join(', ')}`, widths)
  if (format.length && (format.length > 1 || !(VARIANT_FORMATS as readonly string[]).includes(format[0] ?? '')))
    throw invalid('format', `format must be one of ${VARIANT_FORMATS.join(', ')}`, VARIANT_FORMATS)
  return { ...(w.length ? { width } : {}), ...(format.length ? { format: format[0] as VariantFormat } : {}) }
}

/** Whether an Accept header takes `type` by name (with a q above 0); wildcards never pick a newer format. */
function accepts(accept: string, type: string): boolean {
  return accept.split(',').some((part) => {
    const [name, ...params] = part.split(';').map((p) => p.trim().toLowerCase())
    const q = params.find((p) => p.startsWith('q='))
    return name === type && (q === undefined || Number(q.slice(2)) > 0)
  })
}

/** AVIF if the client takes it, else WebP if it does, else the original's format. */
export function negotiate(accept: string | null, original: VariantFormat): VariantFormat {
  if (accept && accepts(accept, 'image/avif')) return 'avif'
  if (accept && accepts(accept, 'image/webp')) return 'webp'
  return original
}

export const variantsUnavailable = () =>
  new ApiError(501, {
    code: 'variantsUnavailable',
    message:
      'This gateway has no Images binding, so it serves originals only: drop w and format, or ask its operator to enable Cloudflare Images and add `"images": {"binding": "TRANSFORMS"}` to the wrangler config',
  })

export class Variants {
  constructor(
    private readonly images: ImageStore,
    private readonly binding: ImagesBinding | undefined,
  ) {}

  get available(): boolean {
    return this.binding !== undefined
  }

  /** The format of the stored image at `objectKey` (its key's extension, else its stored type), or null when there is none. */
  async originalFormat(objectKey: string): Promise<VariantFormat | null> {
    const byExtension = /\.(jpg|png|webp)$/.exec(objectKey)?.[1]
    if (byExtension) return byExtension === 'jpg' ? 'jpeg' : (byExtension as VariantFormat)
    const object = await this.images.head(objectKey)
    return object ? (BY_TYPE.get(object.httpMetadata?.contentType ?? '') ?? 'jpeg') : null
  }

  key(objectKey: string, width: number | undefined, format: VariantFormat): string {
    return variantKey(objectKey, width, EXTENSIONS[format])
  }

  /**
   * Makes the variant and stores it under `key`, unless a concurrent request stored it first;
   * false when there is no image to make it from. The output is read whole before it is stored:
   * R2 needs a length, and a width from the list bounds it.
   */
  async make(objectKey: string, key: string, width: number | undefined, format: VariantFormat): Promise<boolean> {
    if (!this.binding) throw variantsUnavailable()
    const original = await this.images.get(objectKey)
    if (!original) return false
    let bytes: ArrayBuffer
    try {
      const transformer = this.binding.input(original.body)
      const resized = width === undefined ? transformer : transformer.transform({ width, fit: 'scale-down' })
      bytes = await new Response((await resized.output({ format: CONTENT_TYPES[format] })).image()).arrayBuffer()
    } catch (error) {
      // 94xx: the stored bytes are no image the binding can read; anything else is the binding's own trouble.
      const code = (error as { code?: unknown }).code
      if (typeof code === 'number' && code >= 9400 && code < 9500)
        throw new ApiError(422, { code: 'variantFailed', message: 'This image could not be resized; fetch it without w and format' })
      throw new ApiError(
        503,
        { code: 'variantFailed', message: 'Resizing is unavailable right now; retry, or fetch the original' },
        { 'retry-after': '5' },
      )
    }
    await this.images.putOnce(key, bytes, CONTENT_TYPES[format])
    return true
  }
}
