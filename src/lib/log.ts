/**
 * One structured log line: JSON with the level and message first, to the console stream of its
 * level. Callers never pass a key, a secret, a signature or a signed URL.
 */
export function log(level: 'info' | 'error', msg: string, fields: Record<string, unknown> = {}): void {
  const line = JSON.stringify({ level, msg, ...fields })
  if (level === 'error') console.error(line)
  else console.log(line)
}
