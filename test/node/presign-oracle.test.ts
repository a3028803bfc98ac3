/** Acceptance: our presigned R2 PUTs equal the AWS SDK's, byte for byte once the query is sorted. */
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { describe, expect, it } from 'vitest'
import { presignR2Put } from '../../src/images/r2-presign.ts'

const credentials = { accessKeyId: 'AKIAEXAMPLE0123456789', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' }

async function sdkUrl(endpoint: string, bucket: string, key: string, expiresIn: number, signingDate: Date): Promise<URL> {
  const s3 = new S3Client({ region: 'auto', endpoint, credentials, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' })
  return new URL(await getSignedUrl(s3, new PutObjectCommand({ Bucket: bucket, Key: key }), { expiresIn, signingDate }))
}

const sorted = (url: URL) => {
  url.searchParams.sort()
  return url.toString()
}

describe('presignR2Put', () => {
  const cases = [
    [
      'account endpoint',
      'https://0123456789abcdef.r2.cloudflarestorage.com',
      'imagine-edge-images',
      'images/tabc/39a53ab2-8f31-41d4-a71f-1046162099d0/0.jpg',
      900,
    ],
    [
      'jurisdiction endpoint',
      'https://0123456789abcdef.eu.r2.cloudflarestorage.com',
      'bucket-eu',
      'images/tdef/c3366990-6738-44ef-ac40-773c76488d19/19.webp',
      3600,
    ],
    ['local S3 server', 'http://127.0.0.1:9000', 'local', 'images/t1/266a8ab8-b0d2-4e14-af7e-478233217fb2/3.png', 60],
  ] as const
  for (const [name, endpoint, bucket, key, expires] of cases) {
    it(`matches @aws-sdk/s3-request-presigner for a ${name}`, async () => {
      const now = new Date('2026-11-24T10:11:12Z')
      const ours = new URL(await presignR2Put({ endpoint, bucket, key, ...credentials, expiresSeconds: expires, now }))
      const theirs = await sdkUrl(endpoint, bucket, key, expires, now)
      expect(sorted(ours)).toBe(sorted(theirs))
      expect(ours.searchParams.get('X-Amz-SignedHeaders')).toBe('host')
    })
  }

  it('changes the signature when the clock, key or expiry changes', async () => {
    const base = {
      endpoint: 'https://a.r2.cloudflarestorage.com',
      bucket: 'b',
      key: 'images/t/x/0.jpg',
      ...credentials,
      expiresSeconds: 900,
      now: new Date('2026-11-24T00:00:00Z'),
    }
    const sig = async (over: Partial<typeof base>) => new URL(await presignR2Put({ ...base, ...over })).searchParams.get('X-Amz-Signature')
    const original = await sig({})
    expect(await sig({ now: new Date('2026-11-24T00:00:01Z') })).not.toBe(original)
    expect(await sig({ key: 'images/t/x/1.jpg' })).not.toBe(original)
    expect(await sig({ expiresSeconds: 901 })).not.toBe(original)
  })
})
