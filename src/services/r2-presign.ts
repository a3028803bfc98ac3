/** SigV4 presigned PUT URLs into R2's S3 API, made with aws4fetch. */
import { AwsClient } from 'aws4fetch'

export interface PresignInput {
  endpoint: string
  bucket: string
  key: string
  accessKeyId: string
  secretAccessKey: string
  expiresSeconds: number
  now?: Date
}

const clients = new Map<string, AwsClient>()

function clientFor(accessKeyId: string, secretAccessKey: string): AwsClient {
  const id = `${accessKeyId}:${secretAccessKey}`
  let client = clients.get(id)
  if (!client) {
    // aws4fetch caches derived signing keys per client; keep one per credential pair.
    client = new AwsClient({ accessKeyId, secretAccessKey, service: 's3', region: 'auto' })
    clients.set(id, client)
  }
  return client
}

const amzDate = (d: Date) => d.toISOString().replace(/[:-]|\.\d{3}/g, '')

/**
 * A presigned PUT for `key`. Only `host` is signed (Runware's PUT headers are undocumented, so
 * Content-Type must stay free) and the expiry travels in the query. The URL also carries
 * `x-id=PutObject` and `X-Amz-Content-Sha256=UNSIGNED-PAYLOAD`, exactly as the AWS SDK's
 * presigner signs them, so the SDK can serve as a byte-for-byte oracle for what we emit.
 */
export async function presignR2Put(input: PresignInput): Promise<string> {
  const path = input.key.split('/').map(encodeURIComponent).join('/')
  const url = new URL(`${input.endpoint}/${input.bucket}/${path}`)
  url.searchParams.set('X-Amz-Content-Sha256', 'UNSIGNED-PAYLOAD')
  url.searchParams.set('X-Amz-Expires', String(input.expiresSeconds))
  url.searchParams.set('x-id', 'PutObject')
  const signed = await clientFor(input.accessKeyId, input.secretAccessKey).sign(new Request(url, { method: 'PUT' }), {
    aws: { signQuery: true, datetime: amzDate(input.now ?? new Date()) },
  })
  return signed.url
}
