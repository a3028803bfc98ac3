/**
 * Which client URLs the gateway will call (webhookURL, uploadEndpoint): an SSRF guard applied
 * at submit time. Hostnames are not resolved (a Worker cannot), but Cloudflare's network does
 * not route Worker subrequests into private networks; IP literals are what this must stop.
 */

export const MAX_TARGET_URL_LENGTH = 2048

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]'])

function ipv4(host: string): number[] | null {
  const parts = host.split('.')
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p))) return null
  const bytes = parts.map(Number)
  return bytes.every((b) => b <= 255) ? bytes : null
}

/** Private, loopback, link-local, unspecified, shared or multicast IPv4 ranges. */
function isInternalIPv4([a = 0, b = 0]: number[]): boolean {
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    a >= 224
  )
}

function isInternalIPv6(host: string): boolean {
  const h = host.slice(1, -1).toLowerCase()
  if (h === '::' || h === '::1') return true
  if (/^f[cd]/.test(h) || /^fe[89ab]/.test(h) || h.startsWith('ff')) return true
  // IPv4-mapped (::ffff:a.b.c.d), which URL parsing writes as hex (::ffff:7f00:1).
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(h)
  if (mapped) {
    const [hi = 0, lo = 0] = [parseInt(mapped[1] ?? '0', 16), parseInt(mapped[2] ?? '0', 16)]
    return isInternalIPv4([hi >> 8, hi & 255, lo >> 8, lo & 255])
  }
  return false
}

/** Why the gateway must not call `raw`, or null when it may. */
export function unsafeTargetReason(raw: string, development: boolean): string | null {
  if (raw.length > MAX_TARGET_URL_LENGTH) return `is longer than ${MAX_TARGET_URL_LENGTH} characters`
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return 'is not an absolute URL'
  }
  if (url.username || url.password) return 'must not carry credentials'
  const local = LOCAL_HOSTS.has(url.hostname)
  if (url.protocol === 'http:') {
    if (!local) return 'must use https'
    if (!development) return 'may use http only for localhost, and only in development'
    return null
  }
  if (url.protocol !== 'https:') return 'must use https'
  if (local && development) return null
  if (url.hostname === 'localhost' || url.hostname.endsWith('.localhost')) return 'must not point at localhost'
  const v4 = ipv4(url.hostname)
  if (v4 && isInternalIPv4(v4)) return 'must not point at a private, loopback or link-local address'
  if (url.hostname.startsWith('[') && isInternalIPv6(url.hostname)) return 'must not point at a private, loopback or link-local address'
  return null
}
