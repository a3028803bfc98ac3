/** Turns zod issues into Runware-style errors: one per failure, naming the parameter. */
import type * as z from 'zod'
import { ApiError } from '../lib/errors'

/** `inputs.referenceImages[2]`-style names for zod paths. */
export function parameterName(path: readonly PropertyKey[]): string {
  return path.reduce<string>((name, part) => {
    if (typeof part === 'number') return `${name}[${part}]`
    return name ? `${name}.${String(part)}` : String(part)
  }, '')
}

/** Whether `path` names nothing in `input` (zod does not keep inputs on its issues). */
function isAbsent(input: unknown, path: readonly PropertyKey[]): boolean {
  let node: unknown = input
  for (const part of path) {
    if (node === null || typeof node !== 'object') return true
    node = (node as Record<PropertyKey, unknown>)[part]
  }
  return node === undefined
}

function toError(issue: z.core.$ZodIssue, input: unknown): ApiError[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map(
      (key) =>
        new ApiError(400, {
          code: 'unsupportedParameter',
          message: `${parameterName([...issue.path, key])} is not a supported parameter`,
          parameter: parameterName([...issue.path, key]),
        }),
    )
  }
  const parameter = parameterName(issue.path)
  const params = issue.code === 'custom' ? (issue.params as { runwareCode?: string; allowedValues?: unknown[] } | undefined) : undefined
  // Absent is missing, whatever zod checked first (an enum reports an absent value as an invalid option).
  const missing = (issue.code === 'invalid_type' || issue.code === 'invalid_value') && isAbsent(input, issue.path)
  const code = params?.runwareCode ?? (missing ? 'missingParameter' : 'invalidParameter')
  const message = missing ? `${parameter} is required` : issue.message
  const allowedValues = issue.code === 'invalid_value' && !missing ? issue.values : params?.allowedValues
  return [new ApiError(400, { code, message, parameter, ...(allowedValues ? { allowedValues } : {}) })]
}

/** Every zod issue as Runware errors, one per parameter. */
export function issuesToErrors(issues: readonly z.core.$ZodIssue[], input: unknown): ApiError[] {
  const seen = new Set<string>()
  return issues
    .flatMap((issue) => toError(issue, input))
    .filter((e) => {
      const key = String(e.detail.parameter)
      if (seen.has(key)) return false
      seen.add(key)
      return true
    })
}

/** The parsed input, or a 400 carrying one Runware error per invalid parameter. */
export function validate<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input)
  if (parsed.success) return parsed.data
  // A failed parse has at least one issue, and every issue makes at least one error.
  const [first, ...more] = issuesToErrors(parsed.error.issues, input) as [ApiError, ...ApiError[]]
  throw new ApiError(first.status, first.detail, first.headers, more)
}
