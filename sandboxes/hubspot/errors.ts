import { randomUUID } from 'node:crypto';

/** One entry of the `errors` array in HubSpot's error envelope (the spec's `ErrorDetail`). */
export interface ErrorDetail {
  message: string;
  code?: string;
  in?: string;
  subCategory?: string;
  context?: Record<string, string[]>;
}

export interface ErrorExtras {
  errors?: ErrorDetail[];
  context?: Record<string, string[]>;
  subCategory?: string;
}

/**
 * An error the sandbox answers with HubSpot's envelope
 * `{status:'error', message, correlationId, category, errors?, context?}`. Route code throws it and
 * the app's error handler renders it, so every handler fails the same way HubSpot does.
 */
export class HubSpotApiError extends Error {
  override readonly name = 'HubSpotApiError';

  constructor(
    readonly status: number,
    readonly category: string,
    message: string,
    readonly extras: ErrorExtras = {},
  ) {
    super(message);
  }
}

export interface ErrorEnvelope {
  status: 'error';
  message: string;
  correlationId: string;
  category: string;
  subCategory?: string;
  errors?: ErrorDetail[];
  context?: Record<string, string[]>;
}

export function errorEnvelope(err: HubSpotApiError, correlationId: string = randomUUID()): ErrorEnvelope {
  const body: ErrorEnvelope = { status: 'error', message: err.message, correlationId, category: err.category };
  if (err.extras.subCategory !== undefined) body.subCategory = err.extras.subCategory;
  if (err.extras.errors !== undefined) body.errors = err.extras.errors;
  if (err.extras.context !== undefined) body.context = err.extras.context;
  return body;
}

export const validationError = (message: string, extras?: ErrorExtras): HubSpotApiError =>
  new HubSpotApiError(400, 'VALIDATION_ERROR', message, extras);

export const notFoundError = (message = 'resource not found'): HubSpotApiError =>
  new HubSpotApiError(404, 'OBJECT_NOT_FOUND', message);

/**
 * HubSpot's answer to a body that fails its request model: the message names the model and the missing
 * attributes, e.g. "Cannot build SimplePublicObjectInput, some of required attributes are not set [properties]".
 */
export function invalidInput(detail: string): HubSpotApiError {
  return validationError(`Invalid input JSON on line 1, column 1: ${detail}`);
}

export function missingAttributes(model: string, missing: string[]): HubSpotApiError {
  return invalidInput(`Cannot build ${model}, some of required attributes are not set [${missing.join(', ')}]`);
}

/** One property-level failure, serialized into the message exactly as HubSpot embeds it. */
export interface PropertyValidationResult {
  isValid: false;
  message: string;
  error: string;
  name: string;
  localizedErrorMessage: string;
  propertyValue?: string;
  portalId: number;
}

export function propertyResult(
  name: string,
  error: string,
  message: string,
  portalId: number,
  propertyValue?: string,
): PropertyValidationResult {
  const result: PropertyValidationResult = {
    isValid: false,
    message,
    error,
    name,
    localizedErrorMessage: message,
    portalId,
  };
  if (propertyValue !== undefined) result.propertyValue = propertyValue;
  return result;
}

/**
 * HubSpot rejects a write whose properties do not validate with one 400 whose message embeds the JSON
 * of every failed property and whose `errors` repeat them with `code` and `context.propertyName`.
 */
export function propertyValidationError(results: PropertyValidationResult[]): HubSpotApiError {
  return validationError(`Property values were not valid: ${JSON.stringify(results)}`, {
    errors: results.map((r) => ({ message: r.message, code: r.error, context: { propertyName: [r.name] } })),
  });
}

/** A per-input failure inside a 207 batch answer (the spec's `StandardError`). */
export interface StandardError {
  status: 'error';
  category: string;
  message: string;
  context: Record<string, string[]>;
  errors: ErrorDetail[];
  links: Record<string, string>;
  subCategory?: Record<string, never>;
  id?: string;
}

export function standardError(category: string, message: string, context: Record<string, string[]>): StandardError {
  return { status: 'error', category, message, context, errors: [], links: {} };
}
