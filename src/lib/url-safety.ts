/**
 * Which client URLs the gateway will call (webhookURL, uploadEndpoint, an imageUpload URL): one
 * SSRF policy, applied at submit time. Hostnames are not resolved (a Worker cannot), but
 * Cloudflare's network does not route Worker subrequests into private networks; IP literals are
 * what this must stop. No fetch of a client-named URL follows a redirect, so this check holds.
 */
import ipaddr from 'ipaddr.js'

export const MAX_TARGET_URL_LENGTH = 2048

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]'])

/**
 * Whether an IP literal is a public unicast address. ipaddr.js classifies every IANA
 * special-purpose range: private, loopback, link-local, shared, reserved, benchmarking,
 * documentation, multicast, and the IPv6 forms that embed IPv4 (mapped, NAT64, 6to4, Teredo).
 */
function isPublicAddress(literal: string): boolean {
  const address = ipaddr.parse(literal)
  if (address.range() !== 'unicast') return false
  // IPv4-compatible IPv6 (::a.b.c.d, deprecated) embeds an IPv4 address that ipaddr.js calls unicast.
  return !(address.kind() === 'ipv6' && (address as ipaddr.IPv6).parts.slice(0, 6).every((part) => part === 0))
}

/** The address an IP-literal host names, or null for a host name. */
function ipLiteral(host: string): string | null {
  if (host.startsWith('[')) return host.slice(1, -1)
  return ipaddr.IPv4.isValidFourPartDecimal(host) ? host : null
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
  // A trailing dot names the same host (`localhost.`); URL parsing has lower-cased it already.
  const host = url.hostname.replace(/\.+$/, '')
  if (host === 'localhost' || host.endsWith('.localhost')) return 'must not point at localhost'
  const literal = ipLiteral(host)
  if (literal !== null && !isPublicAddress(literal))
    return 'must not point at a private, loopback, link-local or other special-purpose address'
  return null
}
