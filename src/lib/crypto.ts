/** HMAC keys derived from SIGNING_SECRET, imported once per isolate, plus SHA-256 helpers. */
import { fromBase64Url, toBase64Url, toHex, utf8 } from './encoding'
import { memo } from './memo'

/** What a derived key is for; a signature made for one purpose never verifies for another. */
export type KeyPurpose = 'files' | 'uploads' | 'runware-webhook' | 'client-webhooks'

const keyCache = new Map<string, Promise<CryptoKey>>()

async function deriveKey(secret: string, purpose: KeyPurpose): Promise<CryptoKey> {
  // Stryker disable next-line BooleanLiteral: the master key never leaves this function, so nothing could export it
  const master = await crypto.subtle.importKey('raw', utf8(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
  const raw = await crypto.subtle.sign('HMAC', master, utf8(`imagine-edge/${purpose}`))
  return crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify'])
}

/** The HMAC key for `purpose`, cached so each isolate imports it once. */
export function hmacKey(secret: string, purpose: KeyPurpose): Promise<CryptoKey> {
  return memo(keyCache, `${purpose}:${secret}`, () => deriveKey(secret, purpose))
}

/** base64url HMAC-SHA256 of `data`. */
export async function hmacSign(key: CryptoKey, data: string): Promise<string> {
  return toBase64Url(new Uint8Array(await crypto.subtle.sign('HMAC', key, utf8(data))))
}

/** Constant-time check of a base64url HMAC (WebCrypto's verify compares in constant time). */
export async function hmacVerify(key: CryptoKey, data: string, signature: string): Promise<boolean> {
  const sig = fromBase64Url(signature)
  // A signature of the wrong length simply does not verify.
  if (!sig) return false
  return crypto.subtle.verify('HMAC', key, sig, utf8(data))
}

export async function sha256Hex(text: string): Promise<string> {
  return toHex(await crypto.subtle.digest('SHA-256', utf8(text)))
}

export async function sha256Bytes(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', utf8(text)))
}
