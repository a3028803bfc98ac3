/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): `webhook-signature` is
 * `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed by the bytes behind a `whsec_` secret.
 */
import { toBase64, utf8 } from '../lib/encoding'
import { memo } from '../lib/memo'

export const SECRET_PREFIX = 'whsec_'

/** The `whsec_…` form of raw secret bytes, as clients configure it. */
export const formatSecret = (bytes: Uint8Array) => `${SECRET_PREFIX}${toBase64(bytes)}`

const keys = new Map<string, Promise<CryptoKey>>()

/** The HMAC key for a secret's bytes, imported once per isolate. */
function keyFor(bytes: Uint8Array): Promise<CryptoKey> {
  return memo(keys, toBase64(bytes), () =>
    // Stryker disable next-line BooleanLiteral: only exportKey could tell an extractable key apart, and nothing calls it
    crypto.subtle.importKey('raw', bytes as Uint8Array<ArrayBuffer>, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']),
  )
}

/** One `v1,<base64>` signature of an event. */
export async function signEvent(secret: Uint8Array, id: string, timestamp: number, body: string): Promise<string> {
  const mac = await crypto.subtle.sign('HMAC', await keyFor(secret), utf8(`${id}.${timestamp}.${body}`))
  return `v1,${toBase64(new Uint8Array(mac))}`
}

/** The `webhook-signature` header: every given secret signs, space-separated (rotation). */
export async function signatureHeader(secrets: readonly Uint8Array[], id: string, timestamp: number, body: string): Promise<string> {
  return (await Promise.all(secrets.map((s) => signEvent(s, id, timestamp, body)))).join(' ')
}
