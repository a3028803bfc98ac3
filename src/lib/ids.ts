/** Identifiers: UUID v4 checks, deterministic child task UUIDs and seeds. */
import { toHex } from './encoding'
import { sha256Bytes } from './crypto'

export const UUID_V4 = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$/

function formatV4(bytes: Uint8Array): string {
  const b = bytes.slice(0, 16)
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80
  const h = toHex(b)
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

/**
 * The upstream taskUUID of result `index` of a client task. Deterministic, so a repeated
 * dispatch reuses the same UUIDs and Runware answers conflictTaskUUID instead of billing twice.
 * Unkeyed on purpose: it must survive a SIGNING_SECRET rotation.
 */
export function childTaskUUID(tenant: string, taskUUID: string, index: number): Promise<string> {
  return derivedUUID('child', tenant, taskUUID.toLowerCase(), String(index))
}

/** A UUID v4 derived from its parts: the same parts always give the same UUID. */
export async function derivedUUID(...parts: string[]): Promise<string> {
  return formatV4(await sha256Bytes(`imagine-edge/${parts.join(':')}`))
}

/** A random 31-bit seed, as Runware's own random seeds are. */
export function randomSeed(): number {
  const [value = 0] = crypto.getRandomValues(new Uint32Array(1))
  return value >>> 1
}
