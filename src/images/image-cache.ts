/**
 * The edge cache for image bytes, keyed by the object rather than by the signed URL, so every
 * signature for an image shares one entry. Safe because the signature is checked first, and
 * correct because images are written once and never change.
 */

/**
 * How long a colo may keep an image. DELETE purges the local colo at once; elsewhere a deleted
 * image can still be served, to holders of a valid signed URL, until this runs out.
 */
const EDGE_CACHE_SECONDS = 3600

const cacheKey = (objectKey: string) => new Request(`https://imagine-edge.internal/${objectKey}`)

export class ImageCache {
  constructor(private readonly cache: Cache) {}

  match(objectKey: string): Promise<Response | undefined> {
    return this.cache.match(cacheKey(objectKey))
  }

  /** Returns a stream of `object`'s body and, in the background, stores a copy. */
  fill(objectKey: string, object: R2ObjectBody, waitUntil: (p: Promise<unknown>) => void): ReadableStream {
    const [forClient, forCache] = object.body.tee()
    const headers = new Headers({
      etag: object.httpEtag,
      'content-type': object.httpMetadata?.contentType ?? 'application/octet-stream',
      'content-length': String(object.size),
      'cache-control': `public, max-age=${EDGE_CACHE_SECONDS}`,
    })
    waitUntil(this.cache.put(cacheKey(objectKey), new Response(forCache, { headers })).catch(() => undefined))
    return forClient
  }

  async purge(objectKeys: readonly string[]): Promise<void> {
    await Promise.all(objectKeys.map((k) => this.cache.delete(cacheKey(k))))
  }
}
