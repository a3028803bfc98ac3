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
export function uploadTarget(config: Config, signer: UrlSigner): TargetUrl {
  const ttl = config.TASK_DEADLINE_SECONDS
  if (config.UPLOAD_MODE === 'worker') return (key, taskOrigin) => signer.uploadUrl(key, ttl, Date.now(), taskOrigin)
  return presigned(config, presignR2Put, ttl)
}

/** Where Runware GETs a reference image: a URL that expires in REFERENCE_URL_TTL_SECONDS. */
export function referenceTarget(config: Config, signer: UrlSigner): TargetUrl {
  if (config.UPLOAD_MODE === 'worker') return (key, taskOrigin) => signer.fileUrl(key, REFERENCE_URL_TTL_SECONDS, Date.now(), taskOrigin)
  return presigned(config, presignR2Get, REFERENCE_URL_TTL_SECONDS)
}

/** SigV4 presigned R2 URLs with the operator's S3 API credentials. */
function presigned(config: Config, presign: (input: PresignInput) => Promise<string>, expiresSeconds: number): TargetUrl {
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
