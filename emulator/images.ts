/**
 * Renders real, decodable images with sharp, so tests can check the bytes a client
 * receives (format, width, height) rather than trusting a placeholder.
 */
import { createHash } from 'node:crypto'
import sharp from 'sharp'
import type { OutputFormat } from './types.ts'

/** Everything that determines the rendered bytes. */
export interface RenderSpec {
  prompt: string
  seed: number
  width: number
  height: number
  format: OutputFormat
  quality: number
  /** SHA-256 digests of the reference images' bytes: image to image looks different from text to image. */
  references?: string[]
}

const RENDER_CACHE_ENTRIES = 50
const STORED_IMAGES = 100_000

export const EXTENSIONS: Record<OutputFormat, string> = { JPG: 'jpg', PNG: 'png', WEBP: 'webp' }
export const MIME_TYPES: Record<OutputFormat, string> = { JPG: 'image/jpeg', PNG: 'image/png', WEBP: 'image/webp' }

/** A Map used as an LRU: re-inserting on read keeps recently used keys at the end. */
class Lru<V> {
  private readonly map = new Map<string, V>()

  constructor(private readonly limit: number) {}

  get(key: string): V | undefined {
    const value = this.map.get(key)
    if (value !== undefined) {
      this.map.delete(key)
      this.map.set(key, value)
    }
    return value
  }

  set(key: string, value: V): void {
    this.map.delete(key)
    this.map.set(key, value)
    for (const oldest of this.map.keys()) {
      if (this.map.size <= this.limit) break
      this.map.delete(oldest)
    }
  }

  delete(key: string): void {
    this.map.delete(key)
  }
}

/** Fills `buf` (already holding one pattern of `unit` bytes at the start) by doubling copies. */
function repeat(buf: Buffer, unit: number, start: number, end: number): void {
  let filled = unit
  while (filled < end - start) {
    const len = Math.min(filled, end - start - filled)
    buf.copy(buf, start + filled, start, start + len)
    filled += len
  }
}

/** A two-colour linear gradient as raw RGB; colours and direction come from the prompt and seed. */
function gradient(spec: RenderSpec): Buffer {
  const digest = createHash('sha256')
    .update(`${spec.seed}\0${spec.prompt}\0${(spec.references ?? []).join(',')}`)
    .digest()
  const from = [digest[0] ?? 0, digest[1] ?? 0, digest[2] ?? 0] as const
  const to = [digest[3] ?? 255, digest[4] ?? 255, digest[5] ?? 255] as const
  const vertical = ((digest[6] ?? 0) & 1) === 1
  const { width, height } = spec
  const rowBytes = width * 3
  const buf = Buffer.alloc(rowBytes * height)
  const mix = (t: number, i: 0 | 1 | 2): number => Math.round(from[i] + (to[i] - from[i]) * t)
  if (vertical) {
    // One colour per row: write a pixel, then copy it across the row.
    for (let y = 0; y < height; y += 1) {
      const t = height > 1 ? y / (height - 1) : 0
      const at = y * rowBytes
      buf[at] = mix(t, 0)
      buf[at + 1] = mix(t, 1)
      buf[at + 2] = mix(t, 2)
      repeat(buf, 3, at, at + rowBytes)
    }
  } else {
    // Every row is the same: build the first, then copy it down.
    for (let x = 0; x < width; x += 1) {
      const t = width > 1 ? x / (width - 1) : 0
      buf[x * 3] = mix(t, 0)
      buf[x * 3 + 1] = mix(t, 1)
      buf[x * 3 + 2] = mix(t, 2)
    }
    repeat(buf, rowBytes, 0, buf.length)
  }
  return buf
}

async function encode(spec: RenderSpec): Promise<Buffer> {
  const image = sharp(gradient(spec), { raw: { width: spec.width, height: spec.height, channels: 3 } })
  switch (spec.format) {
    case 'JPG':
      return image.jpeg({ quality: spec.quality }).toBuffer()
    case 'PNG':
      return image.png().toBuffer()
    case 'WEBP':
      return image.webp({ quality: spec.quality }).toBuffer()
  }
}

// Promises are cached, so concurrent requests for the same image render it once.
const renderCache = new Lru<Promise<Buffer>>(RENDER_CACHE_ENTRIES)

/** Renders (or returns cached) image bytes, deterministic in every field of the spec. */
export function renderImage(spec: RenderSpec): Promise<Buffer> {
  const key = createHash('sha256').update(JSON.stringify(spec)).digest('hex')
  const cached = renderCache.get(key)
  if (cached) return cached
  const rendered = encode(spec)
  renderCache.set(key, rendered)
  rendered.catch(() => renderCache.delete(key))
  return rendered
}

/**
 * Generated images, served at `GET /images/<imageUUID>.<ext>` for imageURL. Only the render
 * spec is kept (rendering is deterministic), so images stay fetchable for as long as Runware
 * keeps them — a reconciler may ask minutes later — without holding their bytes.
 */
export class ImageStore {
  private readonly specs = new Lru<RenderSpec>(STORED_IMAGES)

  put(imageUUID: string, spec: RenderSpec): void {
    this.specs.set(imageUUID, spec)
  }

  /** Looks up `<imageUUID>.<ext>`; the extension must match the stored format. */
  async get(fileName: string): Promise<{ bytes: Buffer; format: OutputFormat } | undefined> {
    const dot = fileName.lastIndexOf('.')
    const spec = dot > 0 ? this.specs.get(fileName.slice(0, dot)) : undefined
    if (!spec || EXTENSIONS[spec.format] !== fileName.slice(dot + 1)) return undefined
    return { bytes: await renderImage(spec), format: spec.format }
  }
}
