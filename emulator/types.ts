/** Shapes shared by the emulator's modules; they mirror Runware's wire format. */

/** A Runware-style error, as it appears in an `errors` array. */
export interface ApiError {
  code: string
  message: string
  /** An array when a constraint spans several fields (width × height), as Runware does. */
  parameter?: string | string[]
  taskType?: string
  taskUUID?: string
  allowedValues?: readonly (string | number)[]
  /** Only on getResponse answers. */
  status?: 'error'
  /** A page of Runware's docs about the error. */
  documentation?: string
}

export type OutputType = 'URL' | 'base64Data' | 'dataURI'
export type OutputFormat = 'JPG' | 'PNG' | 'WEBP'
export type DeliveryMethod = 'sync' | 'async'

/** A validated imageInference task with every default filled in. */
export interface ImageTask {
  taskUUID: string
  positivePrompt: string
  width: number
  height: number
  outputType: OutputType
  outputFormat: OutputFormat
  outputQuality: number
  numberResults: number
  seed?: number
  deliveryMethod: DeliveryMethod
  webhookURL?: string
  uploadEndpoint?: string
  includeCost: boolean
  /** inputs.referenceImages: URLs the emulator fetches, as Runware would, before rendering. */
  referenceImages: string[]
  /** True when safety.checkContent or checkNSFW asked for a safety check. */
  checkContent: boolean
}

/** One generated image, exactly as sent in `data` and to webhooks. */
export interface ResultItem {
  taskType: 'imageInference'
  taskUUID: string
  imageUUID: string
  imageURL?: string
  imageBase64Data?: string
  imageDataURI?: string
  seed: number
  cost?: number
  NSFWContent?: boolean
}

/** Counters exposed by `GET /__emulator/stats`. */
export interface Stats {
  /** POST /v1 requests received, whatever their outcome. */
  requests: number
  /** How many times each taskUUID was accepted and run (a healthy client never exceeds 1). */
  generations: Record<string, number>
  /** One count per PUT: ok = 2xx, failed = network error, non-2xx or injected failure. */
  uploads: { ok: number; failed: number }
  /** One count per webhook POST attempt: sent = answered 2xx, failed = anything else. */
  webhooks: { sent: number; failed: number }
}

/** A line logger; the emulator never passes it secrets or full presigned URLs. */
export type Log = (line: string) => void
