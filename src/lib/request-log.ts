/**
 * Which requests get the gateway's own log line. Successful reads (task polls, image fetches,
 * the model list) are most of the traffic and tell the least: Workers Logs' invocation log
 * already records each one with its status and duration, and a second line per poll would
 * double what operators pay for and push them towards Workers Logs' sampling, which drops
 * the lines that matter along with the rest. So they are logged when slow, or when
 * LOG_READS is on; writes, failures and WebSocket upgrades are always logged.
 */
export const SLOW_READ_MS = 1000

export function logsRequest(method: string, status: number, durationMs: number, logReads: boolean): boolean {
  // 1xx (a WebSocket upgrade) opens a connection; it is not a read.
  const quietRead = (method === 'GET' || method === 'HEAD') && status >= 200 && status < 400 && durationMs < SLOW_READ_MS
  return logReads || !quietRead
}
