/** Maps Runware's answers to what the gateway's own clients should see. */
import { ApiError, type ErrorStatus, type RunwareError } from '../lib/errors'
import type { UpstreamError } from '../schemas/upstream'
import type { UpstreamResult } from './runware-client'

/** The client-facing error for a dispatch Runware refused or could not take. */
export function dispatchError(result: Exclude<UpstreamResult, { kind: 'ok' | 'timeout' }>, taskUUID: string): ApiError[] {
  const tag = { taskType: 'imageInference', taskUUID }
  if (result.kind === 'unavailable') {
    const seconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000))
    return [
      new ApiError(
        503,
        { code: 'serviceUnavailable', message: 'The image provider is busy or unreachable; retry after the Retry-After delay', ...tag },
        { 'retry-after': String(seconds) },
      ),
    ]
  }
  switch (result.status) {
    case 400:
      return uniqueErrors(result.errors).map((e) => new ApiError(400, passThrough(e, taskUUID)))
    case 402:
      return [
        new ApiError(402, {
          code: 'insufficientCredits',
          message: "The gateway's image provider account has insufficient credits; contact the gateway operator",
          ...tag,
        }),
      ]
    case 401:
    case 403:
      // The operator's Runware key is wrong: a gateway configuration problem, not the client's.
      return [
        new ApiError(502, {
          code: 'upstreamAuthenticationFailed',
          message: 'The gateway could not authenticate with its image provider; contact the gateway operator',
          ...tag,
        }),
      ]
    default:
      return [new ApiError(502, { code: 'upstreamError', message: `The image provider answered HTTP ${result.status}`, ...tag })]
  }
}

/** Runware's own validation error, re-addressed to the client's taskUUID. */
function passThrough(e: UpstreamError, taskUUID: string): RunwareError {
  return {
    code: e.code ?? 'invalidParameter',
    message: e.message ?? 'The image provider rejected the request',
    ...(e.parameter !== undefined ? { parameter: e.parameter } : {}),
    ...(e.allowedValues ? { allowedValues: e.allowedValues } : {}),
    // Runware's own page about its error, kept (the gateway's /docs/errors does not list Runware's codes).
    ...(typeof e.documentation === 'string' && e.documentation.startsWith('https://') ? { documentation: e.documentation } : {}),
    taskType: 'imageInference',
    taskUUID,
  }
}

/** Runware repeats one validation error per child task; the client sent one task. */
function uniqueErrors(errors: UpstreamError[]): UpstreamError[] {
  const seen = new Set<string>()
  const out = errors.filter((e) => {
    const key = `${e.code}|${String(e.parameter)}|${e.message}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
  return out.length ? out : [{ code: 'invalidParameter', message: 'The image provider rejected the request' }]
}

export const isConflict = (e: UpstreamError) => e.code === 'conflictTaskUUID'

/** A failed result as recorded, from Runware's error about that one result. */
export const failureOf = (e: UpstreamError) => ({
  code: e.code ?? 'generationFailed',
  message: e.message ?? 'The image provider reported a failure',
})

const RESULT_FAILURE_STATUS: Record<string, ErrorStatus> = {
  contentPolicyViolation: 400,
  nsfwContentDetected: 400,
  invalidParameter: 400,
  unsupportedParameter: 400,
  incompatibleParameters: 400,
  insufficientCredits: 402,
  timeoutProvider: 504,
  providerTimeout: 504,
}

/** The HTTP status a failed result stands for: the request's fault, or the provider's. */
export const statusOfFailure = (code: string): ErrorStatus => RESULT_FAILURE_STATUS[code] ?? 502
