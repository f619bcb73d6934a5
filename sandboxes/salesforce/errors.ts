/**
 * Salesforce reports REST errors as a JSON array of `{ message, errorCode, fields? }`. DML errors carry
 * `fields` (possibly empty); request-level errors (query, session, routing) do not. Inside sObject
 * collection results the same error is spelled `{ statusCode, message, fields }`.
 */
export interface ErrorBodyItem {
  message: string;
  errorCode: string;
  fields?: string[];
}

export interface CollectionErrorItem {
  statusCode: string;
  message: string;
  fields: string[];
}

export class SalesforceError extends Error {
  override name = 'SalesforceError';
  readonly errorCode: string;
  readonly status: number;
  readonly fields: string[] | undefined;

  constructor(errorCode: string, message: string, options: { status?: number; fields?: string[] } = {}) {
    super(message);
    this.errorCode = errorCode;
    this.status = options.status ?? 400;
    this.fields = options.fields;
  }

  toBody(): ErrorBodyItem[] {
    const item: ErrorBodyItem = { message: this.message, errorCode: this.errorCode };
    if (this.fields) item.fields = this.fields;
    return [item];
  }

  toCollectionError(): CollectionErrorItem {
    return { statusCode: this.errorCode, message: this.message, fields: this.fields ?? [] };
  }

  /** Bulk API 2.0 failed-results cell: `CODE:message:Field1,Field2 --`, or `CODE:message:--` without fields. */
  toBulkError(): string {
    const fields = this.fields ?? [];
    return `${this.errorCode}:${this.message}:${fields.length > 0 ? `${fields.join(',')} ` : ''}--`;
  }
}

/** Thrown by the schema admin routes and `addField`/`addObject` when a definition is unacceptable. */
export class SchemaDefinitionError extends Error {
  override name = 'SchemaDefinitionError';
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export const notFound = (): SalesforceError =>
  new SalesforceError('NOT_FOUND', 'The requested resource does not exist', { status: 404 });

export const externalIdFieldNotFound = (name: string): SalesforceError =>
  new SalesforceError('NOT_FOUND', `Provided external ID field does not exist or is not accessible: ${name}`, {
    status: 404,
  });

export const invalidSession = (): SalesforceError =>
  new SalesforceError('INVALID_SESSION_ID', 'Session expired or invalid', { status: 401 });

export const requestLimitExceeded = (message = 'TotalRequests Limit exceeded.'): SalesforceError =>
  new SalesforceError('REQUEST_LIMIT_EXCEEDED', message, { status: 403 });

export const jsonParserError = (message: string): SalesforceError => new SalesforceError('JSON_PARSER_ERROR', message);

export const noSuchColumn = (field: string, object: string): SalesforceError =>
  new SalesforceError('INVALID_FIELD', `No such column '${field}' on sobject of type ${object}`);
