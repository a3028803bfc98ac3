/**
 * The URLs Runware is handed for a task's images: where it PUTs each result, and where it GETs
 * each stored reference image. Presigned R2 URLs with the operator's S3 credentials, or, in
 * `worker` upload mode, the gateway's own signed routes.
 */
import type { Config } from '../config/schema'
import { presignR2Get, presignR2Put, type PresignInput } from './r2-presign'
import type { UrlSigner } from './url-signer'

/** How long a reference image URL handed to Runware lives: long enough for it to start the task, no longer. */
export const REFERENCE_URL_TTL_SECONDS = 600

/** Builds a URL for an object key, issued for a task's origin. */
export type TargetUrl = (objectKey: string, taskOrigin: string) => Promise<string>

/** Where Runware PUTs each result. Upload URLs need only outlive the task: after its deadline nothing may land. */
export const uploadTarget = (config: Config, signer: UrlSigner): TargetUrl =>
  target(config, presignR2Put, config.TASK_DEADLINE_SECONDS, (key, ttl, origin) => signer.uploadUrl(key, ttl, Date.now(), origin))

/** Where Runware GETs a reference image: a URL that expires in REFERENCE_URL_TTL_SECONDS. */
export const referenceTarget = (config: Config, signer: UrlSigner): TargetUrl =>
  target(config, presignR2Get, REFERENCE_URL_TTL_SECONDS, (key, ttl, origin) => signer.fileUrl(key, ttl, Date.now(), origin))

/** In worker mode, the gateway's own signed route; otherwise a SigV4 presigned R2 URL with the operator's S3 credentials. */
function target(
  config: Config,
  presign: (input: PresignInput) => Promise<string>,
  expiresSeconds: number,
  ownRoute: (key: string, ttlSeconds: number, taskOrigin: string) => Promise<string>,
): TargetUrl {
  if (config.UPLOAD_MODE === 'worker') return (key, taskOrigin) => ownRoute(key, expiresSeconds, taskOrigin)
  return (key) =>
    presign({
      endpoint: config.R2_S3_ENDPOINT,
      bucket: config.R2_BUCKET_NAME,
      key,
      accessKeyId: config.R2_ACCESS_KEY_ID ?? '',
      secretAccessKey: config.R2_SECRET_ACCESS_KEY ?? '',
      expiresSeconds,
    })
}
