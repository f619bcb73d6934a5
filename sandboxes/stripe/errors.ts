/**
 * Stripe's v1 error envelope. stripe-node picks the error class from the status code and `type`
 * (see generateV1Error in stripe-node's Error.js), so both must match what the real API sends.
 */
export type StripeErrorType = 'invalid_request_error' | 'card_error' | 'api_error' | 'idempotency_error';

export interface StripeErrorBody {
  type: StripeErrorType;
  message: string;
  code?: string;
  param?: string;
  decline_code?: string;
  doc_url?: string;
  charge?: string;
  payment_intent?: unknown;
  payment_method?: unknown;
  request_log_url?: string;
}

export class StripeApiError extends Error {
  override readonly name = 'StripeApiError';
  constructor(
    readonly status: number,
    readonly body: StripeErrorBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.message);
  }
}

function withDoc(body: StripeErrorBody): StripeErrorBody {
  return body.code ? { ...body, doc_url: `https://stripe.com/docs/error-codes/${body.code.replace(/_/g, '-')}` } : body;
}

export function invalidRequest(
  message: string,
  opts: { param?: string; code?: string; status?: number } = {},
): StripeApiError {
  const body: StripeErrorBody = { type: 'invalid_request_error', message };
  if (opts.code !== undefined) body.code = opts.code;
  if (opts.param !== undefined) body.param = opts.param;
  return new StripeApiError(opts.status ?? 400, withDoc(body));
}

/**
 * `No such customer: 'cus_x'`. Stripe answers 404 when the missing object is the one named in the URL
 * and 400 when it is referenced by a parameter, with the parameter's name in `param`.
 */
export function noSuch(kind: string, id: string, param?: string): StripeApiError {
  return invalidRequest(`No such ${kind}: '${id}'`, {
    code: 'resource_missing',
    status: param === undefined ? 404 : 400,
    ...(param === undefined ? { param: 'id' } : { param }),
  });
}

export function missingParam(param: string): StripeApiError {
  return invalidRequest(`Missing required param: ${param}.`, { code: 'parameter_missing', param });
}

export function unknownParam(param: string): StripeApiError {
  return invalidRequest(`Received unknown parameter: ${param}`, { code: 'parameter_unknown', param });
}

export interface CardDecline {
  code: string;
  declineCode?: string;
  message: string;
}

export function cardError(decline: CardDecline, extra: Partial<StripeErrorBody> = {}): StripeApiError {
  const body: StripeErrorBody = { type: 'card_error', code: decline.code, message: decline.message, ...extra };
  if (decline.declineCode !== undefined) body.decline_code = decline.declineCode;
  return new StripeApiError(402, withDoc(body));
}

export function apiError(message: string, status = 500): StripeApiError {
  return new StripeApiError(status, { type: 'api_error', message });
}
