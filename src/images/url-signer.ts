/**
 * Signed URLs and tokens: image reads (/files), worker-mode uploads (/uploads) and
 * Runware webhooks (/webhooks/runware). Each purpose has its own derived key.
 */
import { BoundedCache } from '../lib/bounded-cache'
import { ApiError } from '../lib/errors'
import { hmacKey, hmacSign, hmacVerify, type KeyPurpose } from '../lib/crypto'
import { EXTENSIONS, type ImageFormat } from '../lib/image-type'

/** Expiries are rounded up to this bucket so repeated reads get the same URL and caches hit. */
export const EXPIRY_BUCKET_SECONDS = 300

/**
 * File URL signatures this isolate issued lately. Within an expiry bucket a polled task's images
 * get the same URL, so each is signed once per bucket, not once per read.
 */
const fileSignatures = new BoundedCache<Promise<string>>(5000)

/** What a signed URL is for: reading an image, or Runware's upload of one in worker mode. */
type SignedPurpose = 'files' | 'uploads'

export class UrlSigner {
  constructor(
    private readonly secret: string,
    /** The origin URLs are issued for, unless a call names another (the task's own, in crons). */
    readonly baseUrl: string,
    /** SIGNING_SECRET_PREVIOUS: still verifies, never signs, while a rotation settles. */
    private readonly previous?: string,
  ) {}

  /** Whether `signature` of `data` was made with the current secret, or the previous one. */
  private async verify(purpose: KeyPurpose, data: string, signature: string): Promise<boolean> {
    if (await hmacVerify(await hmacKey(this.secret, purpose), data, signature)) return true
    return this.previous !== undefined && hmacVerify(await hmacKey(this.previous, purpose), data, signature)
  }

  /** A GET URL for an R2 object, valid at least `ttlSeconds`. */
  async fileUrl(objectKey: string, ttlSeconds: number, now = Date.now(), base = this.baseUrl): Promise<string> {
    const exp = Math.ceil((now / 1000 + ttlSeconds) / EXPIRY_BUCKET_SECONDS) * EXPIRY_BUCKET_SECONDS
    const payload = `${objectKey}\n${exp}`
    const sig = await fileSignatures.get(`${this.secret}\n${payload}`, async () => hmacSign(await hmacKey(this.secret, 'files'), payload))
    return `${base}/files/${objectKey}?exp=${exp}&sig=${sig}`
  }

  /** A PUT URL for worker-mode uploads, valid `ttlSeconds`. */
  async uploadUrl(objectKey: string, ttlSeconds: number, now = Date.now(), base = this.baseUrl): Promise<string> {
    const exp = Math.floor(now / 1000) + ttlSeconds
    const sig = await hmacSign(await hmacKey(this.secret, 'uploads'), `${objectKey}\n${exp}`)
    return `${base}/uploads/${objectKey}?exp=${exp}&sig=${sig}`
  }

  /**
   * The object key a signed `/files/…` or `/uploads/…` URL names, with its expiry; a 403 when its
   * signature is forged or has expired. Keys are URL-safe by construction, so an encoded path
   * simply fails the check. The signature is checked before the expiry, so a forged URL never
   * learns whether it expired.
   */
  async signedKey(purpose: SignedPurpose, url: URL, now = Date.now()): Promise<{ key: string; exp: number }> {
    const key = url.pathname.slice(purpose.length + 2)
    // A missing parameter reads "null", which no signature matches; the expiry is part of what is
    // signed, so any exp but the one issued fails here too.
    const [exp, sig] = [String(url.searchParams.get('exp')), String(url.searchParams.get('sig'))]
    if (!(await this.verify(purpose, `${key}\n${exp}`, sig))) throw refusal(purpose, false)
    if (Number(exp) * 1000 < now) throw refusal(purpose, true)
    return { key, exp: Number(exp) }
  }

  /**
   * The webhook URL Runware calls for one child; its token is the only proof a webhook is genuine.
   * The path names the result's image (`0.jpg`), so a webhook finds its image without reading the task.
   */
  async runwareWebhookUrl(tenant: string, taskUUID: string, index: number, format: ImageFormat, base = this.baseUrl): Promise<string> {
    const path = `${tenant}/${taskUUID}/${index}.${EXTENSIONS[format]}`
    const token = await hmacSign(await hmacKey(this.secret, 'runware-webhook'), path)
    return `${base}/webhooks/runware/${path}?token=${token}`
  }

  /** Checks a webhook's token against its path (`tenant/taskUUID/index.ext`). */
  async checkRunwareWebhook(path: string, token: string | undefined): Promise<boolean> {
    // Stryker disable next-line ConditionalExpression: a shortcut; hmacVerify refuses an empty or missing token anyway (refusing every token is a curated mutant)
    if (!token) return false
    return this.verify('runware-webhook', path, token)
  }
}

/** The 403 for a signed URL: an image URL's holder can fix an expired one; an upload URL is Runware's, and says no more. */
function refusal(purpose: SignedPurpose, expired: boolean): ApiError {
  const message =
    purpose === 'uploads'
      ? 'This upload URL is not valid'
      : expired
        ? 'This image URL has expired; fetch the task again for a fresh one'
        : 'This image URL is not valid'
  return new ApiError(403, { code: expired ? 'signatureExpired' : 'invalidSignature', message })
}
