/**
 * Every error code the gateway itself answers with, and what a client should do about it. Each
 * error's `documentation` points at its entry on /docs/errors (built from this list by
 * scripts/build-assets.ts); test/node/error-catalog.test.ts fails when a code in src/ is missing.
 * Codes Runware answers with pass through with Runware's own documentation, when it gives one.
 */

/** Each code, and what happened and what to do about it. */
export const ERROR_CATALOG: Record<string, string> = {
  invalidApiKey:
    'No gateway API key, or one this gateway did not issue. Send Authorization: Bearer <key>, or an authentication task first.',
  invalidAdminToken: 'The admin API needs the operator token (ADMIN_TOKEN) as a bearer token.',
  invalidRequestBody: 'The body is not a JSON array of tasks (or a WebSocket message is not one). Send [{"taskType":…}].',
  invalidWebhookURL: 'webhookURL must be a public https URL: no private, loopback or link-local address, no credentials in it.',
  invalidUploadEndpoint: 'uploadEndpoint must be a public https URL: no private, loopback or link-local address, no credentials in it.',
  invalidParameter:
    'A parameter has a value the model page does not allow; `parameter` names it, and `allowedValues` lists the choices where they are few.',
  missingParameter: 'A required parameter is absent; `parameter` names it.',
  unsupportedParameter: 'A parameter the model page does not list; remove it.',
  unsupportedTaskType: 'The gateway serves imageInference, imageUpload, mediaStorage, getResponse and ping.',
  modelNotFound: 'The model is not served by this gateway; `allowedValues` lists those that are.',
  modelNotAllowed: 'This API key may not use that model; the operator sets which models a key may use.',
  tooManyTasks: 'At most 10 tasks per request or WebSocket message; split the rest into more requests.',
  tooManyTasksInFlight:
    'A WebSocket connection may have at most 32 imageInference tasks whose results are still being pushed; wait for results first.',
  tooManyConcurrentTasks: "The key's maxConcurrentTasks is reached; retry when a task finishes.",
  rateLimitExceeded: 'Too many requests for this key; wait for the Retry-After header and retry.',
  insufficientCredits:
    'A budget for the period is spent (or would be by this task): the key\'s own (`budget: "key"`) or its tenant\'s (`budget: "tenant"`). It resets at `resetsAt`, or the operator raises it.',
  payloadTooLarge:
    'The body or message is too large. Send large images as https URLs, or upload them first with POST /v1/images or mediaStorage.',
  conflictTaskUUID:
    'The taskUUID was already used with another body, or by a deleted task. Use a new taskUUID; re-sending the same body is safe.',
  taskInProgress:
    'DELETE refuses a task that is still running: Runware still generates and bills its images. Delete it once it has finished (after Retry-After).',
  taskNotFound: "No task with that taskUUID for this key's tenant (it may be past retention, or another tenant's).",
  notFound: 'No route serves this method and path; see /docs for the API.',
  keyNotFound: 'The admin API knows no key with that id.',
  deliveryNotFound: 'No webhook delivery with that id for this tenant.',
  imageNotFound: "An imageUUID in inputs.referenceImages names no image generated or uploaded by this key's tenant.",
  mediaNotFound: "mediaStorage delete names no media uploaded by this key's tenant (or it is already deleted).",
  imageNotStored: 'The image of this result is not in storage (it was deleted, or never landed).',
  invalidImage: 'The image is not a PNG, JPG or WEBP, is not valid base64, is too large, or its URL could not be fetched.',
  unsupportedImageFormat: 'Only PNG, JPG and WEBP images can be stored.',
  variantsUnavailable:
    'This gateway has no Images binding, so w and format are refused and only originals are served. The operator enables Cloudflare Images and adds the TRANSFORMS binding (README, Images).',
  variantFailed:
    'The image could not be resized or re-encoded: 422 when its bytes are no image the Images binding reads, 503 (with Retry-After) when the binding failed. The original, without w and format, still works.',
  invalidRange: 'The Range header asks for bytes the image does not have.',
  invalidSignature: 'The signed URL was altered, or signed for another resource. Use the URL exactly as the gateway gave it.',
  signatureExpired: 'The signed URL has expired. Fetch the task again (GET /v1/tasks/{id} or getResponse) for fresh URLs.',
  invalidWebhookToken: "Runware's webhook call carried a token this gateway did not issue.",
  upgradeRequired: 'GET /v1 is the WebSocket endpoint: connect with a WebSocket client, or POST tasks over REST.',
  serviceUnavailable:
    'The image provider is unavailable or did not take the task. Retry after the Retry-After header, with the same taskUUID.',
  timeoutProvider: 'The image provider gave no result in time; the task failed and costs nothing.',
  upstreamError: 'The image provider answered something the gateway could not use. Retry later.',
  upstreamAuthenticationFailed: "The provider refused the operator's Runware key. Only the operator can fix this (RUNWARE_API_KEY).",
  gatewayMisconfigured: 'The gateway is not configured correctly; its operator must fix the settings named in the message.',
  internalServerError:
    'Something failed inside the gateway or the provider (a failed generation, say). Retry later; a failed result costs nothing.',
  nsfwContentDetected: 'The safety check flagged the content.',
}
