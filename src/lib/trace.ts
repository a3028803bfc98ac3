/**
 * W3C Trace Context (`traceparent: 00-{trace id}-{parent id}-{flags}`): the gateway keeps a
 * client's trace id across its own hops (the upstream call, client webhook deliveries), each
 * hop under a span id of its own, so a request can be followed from client to Runware and back.
 */
import { toHex } from './encoding'

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/
const ZERO = /^0+$/

const randomHex = (bytes: number) => toHex(crypto.getRandomValues(new Uint8Array(bytes)))

/** The header when it is a valid version-00 traceparent (ids not all zeros), else null. */
export function validTraceparent(header: string | undefined | null): string | null {
  const match = header ? TRACEPARENT.exec(header.trim().toLowerCase()) : null
  if (!match || ZERO.test(match[1] ?? '') || ZERO.test(match[2] ?? '')) return null
  return match[0]
}

/** A fresh trace, for a request that brought none. */
export const newTraceparent = () => `00-${randomHex(16)}-${randomHex(8)}-01`

/** The trace id of a traceparent. */
export const traceIdOf = (traceparent: string) => traceparent.slice(3, 35)

/** The traceparent the gateway sends on a hop of the trace: the same trace id and flags, its own span id. */
export const childTraceparent = (traceparent: string) => `00-${traceIdOf(traceparent)}-${randomHex(8)}-${traceparent.slice(-2)}`
