/** Image bytes in R2: written once, typed by their magic bytes, streamed rather than buffered. */
import { ApiError } from '../lib/errors'
import { CONTENT_TYPES, SNIFF_BYTES, sniffImageFormat, type ImageFormat } from '../lib/image-type'
import { peek, readCapped } from '../lib/streams'

export type StoreOutcome = 'stored' | 'exists'

const tooLarge = (maxBytes: number) => new ApiError(413, { code: 'payloadTooLarge', message: `The image is larger than ${maxBytes} bytes` })

export class ImageStore {
  constructor(private readonly bucket: R2Bucket) {}

  head(key: string): Promise<R2Object | null> {
    return this.bucket.head(key)
  }

  /** An image's bytes and metadata, streamed; with options, a range, or a body-less object when `onlyIf` failed. */
  get(key: string): Promise<R2ObjectBody | null>
  get(key: string, options: R2GetOptions): Promise<R2ObjectBody | R2Object | null>
  get(key: string, options?: R2GetOptions): Promise<R2ObjectBody | R2Object | null> {
    return this.bucket.get(key, options)
  }

  /**
   * Stores an image at `key` unless one is already there. JPG, PNG and WEBP only (or the one
   * format `only` names, where the key promises it), judged by magic bytes; the Content-Type
   * is taken from them, never from the sender.
   */
  async put(
    key: string,
    body: ReadableStream<Uint8Array> | null,
    length: number | null,
    maxBytes: number,
    only?: ImageFormat,
  ): Promise<StoreOutcome> {
    if (!body || length === 0) throw new ApiError(400, { code: 'invalidImage', message: 'The image body is empty' })
    if (length !== null && length > maxBytes) throw tooLarge(maxBytes)
    const peeked = await peek(body, SNIFF_BYTES)
    const format = sniffImageFormat(peeked.head)
    if (!format || (only && format !== only)) {
      await peeked.body.cancel()
      throw new ApiError(415, {
        code: 'unsupportedImageFormat',
        message: `The body is not a ${only ?? 'JPG, PNG or WEBP'} image`,
        allowedValues: only ? [only] : ['JPG', 'PNG', 'WEBP'],
      })
    }
    const value =
      length === null
        ? await readCapped(peeked.body, maxBytes, () => tooLarge(maxBytes))
        : peeked.body.pipeThrough(new FixedLengthStream(length))
    const stored = await this.bucket.put(key, value, {
      onlyIf: { etagDoesNotMatch: '*' },
      httpMetadata: { contentType: CONTENT_TYPES[format] },
    })
    return stored ? 'stored' : 'exists'
  }

  /** Stores bytes the gateway made itself (a variant) at `key`, unless something is already there. */
  async putOnce(key: string, bytes: ArrayBuffer, contentType: string): Promise<void> {
    await this.bucket.put(key, bytes, { onlyIf: { etagDoesNotMatch: '*' }, httpMetadata: { contentType } })
  }

  /** The format an object's first bytes say it is: `other` when they are no image we serve, null when there is no object. */
  async formatOf(key: string): Promise<ImageFormat | 'other' | null> {
    const object = await this.bucket.get(key, { range: { offset: 0, length: SNIFF_BYTES } })
    if (!object || !('body' in object)) return null
    return sniffImageFormat(new Uint8Array(await object.arrayBuffer())) ?? 'other'
  }

  async delete(key: string): Promise<void> {
    await this.bucket.delete(key)
  }

  /** Deletes every object under `prefix`, a page at a time, and returns their keys. */
  async deletePrefix(prefix: string): Promise<string[]> {
    const deleted: string[] = []
    let cursor: string | undefined
    do {
      const page = await this.bucket.list({ prefix, cursor })
      const keys = page.objects.map((o) => o.key)
      if (keys.length) await this.bucket.delete(keys)
      deleted.push(...keys)
      cursor = page.truncated ? page.cursor : undefined
    } while (cursor)
    return deleted
  }
}
