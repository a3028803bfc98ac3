/** SigV4 presigned PUT and GET URLs into R2's S3 API, made with aws4fetch. */
import { AwsV4Signer } from 'aws4fetch'

export interface PresignInput {
  endpoint: string
  bucket: string
  key: string
  accessKeyId: string
  secretAccessKey: string
  expiresSeconds: number
  now?: Date
}

/** aws4fetch's cache of derived signing keys (one per secret and day), kept for the isolate's life. */
const signingKeys = new Map<string, ArrayBuffer>()

const amzDate = (d: Date) => d.toISOString().replace(/[:-]|\.\d{3}/g, '')

/**
 * A presigned PUT for `key`. Only `host` is signed (Runware's PUT headers are undocumented, so
 * Content-Type must stay free) and the expiry travels in the query. The URL also carries
 * `x-id=PutObject` and `X-Amz-Content-Sha256=UNSIGNED-PAYLOAD`, exactly as the AWS SDK's
 * presigner signs them, so the SDK can serve as a byte-for-byte oracle for what we emit.
 */
export function presignR2Put(input: PresignInput): Promise<string> {
  return presign('PUT', input)
}

/** A presigned GET for `key`: how Runware fetches a reference image straight from R2. */
export function presignR2Get(input: PresignInput): Promise<string> {
  return presign('GET', input)
}

async function presign(method: 'PUT' | 'GET', input: PresignInput): Promise<string> {
  const path = input.key.split('/').map(encodeURIComponent).join('/')
  const url = new URL(`${input.endpoint}/${input.bucket}/${path}`)
  url.searchParams.set('X-Amz-Content-Sha256', 'UNSIGNED-PAYLOAD')
  url.searchParams.set('X-Amz-Expires', String(input.expiresSeconds))
  url.searchParams.set('x-id', method === 'PUT' ? 'PutObject' : 'GetObject')
  // The signer directly, not AwsClient.sign: that builds two Request objects per URL we never send.
  const signer = new AwsV4Signer({
    method,
    url: url.toString(),
    accessKeyId: input.accessKeyId,
    secretAccessKey: input.secretAccessKey,
    service: 's3',
    region: 'auto',
    signQuery: true,
    datetime: amzDate(input.now ?? new Date()),
    cache: signingKeys,
  })
  return (await signer.sign()).url.toString()
}
