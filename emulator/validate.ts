/**
 * ImagineArt 1.5 request validation, written independently of the gateway's own rules
 * so that a mistake in one shows up as a disagreement in end-to-end tests.
 * Rules come from the model page (shared/reference/imagineart-1-5.md).
 */
import type { ApiError, DeliveryMethod, ImageTask, OutputFormat, OutputType } from './types.ts'

export const MODEL_ID = 'imagineart:1@5'
export const SIZES = [
  '2048x2048',
  '2560x1440',
  '1440x2560',
  '2304x1728',
  '1728x2304',
  '2472x824',
  '824x2472',
  '2496x1664',
  '1664x2496',
] as const
export const OUTPUT_TYPES = ['URL', 'base64Data', 'dataURI'] as const
export const OUTPUT_FORMATS = ['JPG', 'PNG', 'WEBP'] as const
const DELIVERY_METHODS = ['sync', 'async'] as const
const SAFETY_MODES = ['none', 'fast'] as const
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i

/** Returns an error for a bad value, or undefined when the value is acceptable. */
type Check = (value: unknown, name: string) => ApiError | undefined
type Fields = Record<string, Check>

const invalid = (parameter: string | string[], message: string, allowedValues?: readonly string[]): ApiError =>
  allowedValues ? { code: 'invalidParameter', message, parameter, allowedValues } : { code: 'invalidParameter', message, parameter }

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

const str =
  (min: number, max: number): Check =>
  (v, name) =>
    typeof v === 'string' && v.length >= min && v.length <= max
      ? undefined
      : invalid(name, `'${name}' must be a string of ${min} to ${max} characters.`)

const int =
  (min: number, max = Number.MAX_SAFE_INTEGER): Check =>
  (v, name) =>
    typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max
      ? undefined
      : invalid(name, `'${name}' must be an integer from ${min} to ${max}.`)

const bool: Check = (v, name) => (typeof v === 'boolean' ? undefined : invalid(name, `'${name}' must be a boolean.`))

const oneOf =
  (values: readonly string[]): Check =>
  (v, name) =>
    typeof v === 'string' && values.includes(v) ? undefined : invalid(name, `'${name}' must be one of: ${values.join(', ')}.`, values)

const uri: Check = (v, name) => {
  if (typeof v === 'string' && URL.canParse(v)) {
    const { protocol } = new URL(v)
    if (protocol === 'https:' || protocol === 'http:') return undefined
  }
  return invalid(name, `'${name}' must be an http(s) URI.`)
}

const uuidV4: Check = (v, name) => (typeof v === 'string' && UUID_V4.test(v) ? undefined : invalid(name, `'${name}' must be a UUID v4.`))

const model: Check = (v, name) =>
  v === MODEL_ID
    ? undefined
    : { code: 'modelNotFound', message: `Model '${String(v)}' not found; this emulator serves ${MODEL_ID}.`, parameter: name }

const stringArray: Check = (v, name) =>
  Array.isArray(v) && v.every((s) => typeof s === 'string' && s.length > 0)
    ? undefined
    : invalid(name, `'${name}' must be an array of non-empty strings.`)

/** Checks every known key of a nested object and rejects unknown ones. */
const object =
  (fields: Fields): Check =>
  (v, name) =>
    isRecord(v) ? checkFields(v, fields, `${name}.`) : invalid(name, `'${name}' must be an object.`)

const TASK_FIELDS: Fields = {
  taskType: oneOf(['imageInference']),
  taskUUID: uuidV4,
  model,
  positivePrompt: str(2, 3000),
  width: int(1),
  height: int(1),
  outputType: oneOf(OUTPUT_TYPES),
  outputFormat: oneOf(OUTPUT_FORMATS),
  outputQuality: int(20, 99),
  numberResults: int(1, 20),
  seed: int(0),
  deliveryMethod: oneOf(DELIVERY_METHODS),
  webhookURL: uri,
  uploadEndpoint: uri,
  ttl: int(60),
  includeCost: bool,
  safety: object({ checkContent: bool, mode: oneOf(SAFETY_MODES) }),
  checkNSFW: bool,
  inputs: object({ referenceImages: stringArray }),
}
const REQUIRED = ['taskUUID', 'model', 'positivePrompt'] as const

function checkFields(v: Record<string, unknown>, fields: Fields, prefix: string): ApiError | undefined {
  for (const key of Object.keys(v)) {
    if (!Object.hasOwn(fields, key)) {
      return {
        code: 'unsupportedParameter',
        message: `Parameter '${prefix}${key}' is not supported by ${MODEL_ID}.`,
        parameter: `${prefix}${key}`,
      }
    }
  }
  for (const [key, check] of Object.entries(fields)) {
    const error = key in v ? check(v[key], `${prefix}${key}`) : undefined
    if (error) return error
  }
  return undefined
}

function checkSize(v: Record<string, unknown>): ApiError | undefined {
  const hasW = v.width !== undefined
  const hasH = v.height !== undefined
  if (hasW !== hasH) {
    const missing = hasW ? 'height' : 'width'
    return { code: 'missingParameter', message: `'width' and 'height' must be used together; '${missing}' is missing.`, parameter: missing }
  }
  if (hasW && !(SIZES as readonly string[]).includes(`${String(v.width)}x${String(v.height)}`)) {
    return invalid(['width', 'height'], `Unsupported dimensions ${String(v.width)}x${String(v.height)} for ${MODEL_ID}.`, SIZES)
  }
  return undefined
}

export type Validation = { ok: true; task: ImageTask } | { ok: false; error: ApiError }

/** Validates one imageInference task object and fills in the model's defaults. */
export function validateImageInference(raw: Record<string, unknown>): Validation {
  const missing = REQUIRED.find((key) => raw[key] === undefined)
  const error =
    checkFields(raw, TASK_FIELDS, '') ??
    (missing ? { code: 'missingParameter', message: `Parameter '${missing}' is required.`, parameter: missing } : undefined) ??
    checkSize(raw)
  if (error) {
    const taskUUID = typeof raw.taskUUID === 'string' ? raw.taskUUID : undefined
    return { ok: false, error: { ...error, taskType: 'imageInference', ...(taskUUID ? { taskUUID } : {}) } }
  }
  // Every field below has passed its check, so the narrowing casts are safe.
  const safety = isRecord(raw.safety) ? raw.safety : {}
  const seed = raw.seed as number | undefined
  const webhookURL = raw.webhookURL as string | undefined
  const uploadEndpoint = raw.uploadEndpoint as string | undefined
  const inputs = isRecord(raw.inputs) ? raw.inputs : {}
  const task: ImageTask = {
    taskUUID: raw.taskUUID as string,
    positivePrompt: raw.positivePrompt as string,
    width: (raw.width as number | undefined) ?? 2048,
    height: (raw.height as number | undefined) ?? 2048,
    outputType: (raw.outputType as OutputType | undefined) ?? 'URL',
    outputFormat: (raw.outputFormat as OutputFormat | undefined) ?? 'JPG',
    outputQuality: (raw.outputQuality as number | undefined) ?? 95,
    numberResults: (raw.numberResults as number | undefined) ?? 1,
    deliveryMethod: (raw.deliveryMethod as DeliveryMethod | undefined) ?? 'sync',
    includeCost: raw.includeCost === true,
    checkContent: safety.checkContent === true || raw.checkNSFW === true,
    referenceImages: (inputs.referenceImages as string[] | undefined) ?? [],
    ...(seed !== undefined ? { seed } : {}),
    ...(webhookURL !== undefined ? { webhookURL } : {}),
    ...(uploadEndpoint !== undefined ? { uploadEndpoint } : {}),
  }
  return { ok: true, task }
}
