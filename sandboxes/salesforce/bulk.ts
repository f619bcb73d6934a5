import { COLUMN_DELIMITERS, CsvFormatError, parseCsv, toCsv } from './csv.js';
import { SalesforceError, notFound } from './errors.js';
import type { IdGenerator } from './ids.js';
import { isPlainObject } from './input.js';
import type { ApiUsage } from './limits.js';
import type { FieldDef, FieldValue, ObjectDef, Schema } from './schema.js';
import type { RecordStore, Row, Values } from './store.js';
import { formatDateTime, fromCsv } from './values.js';

export type IngestOperation = 'insert' | 'update' | 'upsert' | 'delete' | 'hardDelete';
export type JobState = 'Open' | 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Failed' | 'Aborted';

const OPERATIONS: readonly IngestOperation[] = ['insert', 'update', 'upsert', 'delete', 'hardDelete'];
/** Salesforce splits Bulk API 2.0 data into internal batches of 10,000 records (DailyBulkApiBatches). */
const RECORDS_PER_BATCH = 10_000;
/** Records per internal chunk: one DML transaction, the scope of duplicate-external-id detection. */
const DEFAULT_CHUNK_SIZE = 200;
/** Maximum upload per job, 150 MB of CSV. */
const MAX_UPLOAD_BYTES = 150 * 1024 * 1024;

export interface BulkOptions {
  /** Delay between UploadComplete and InProgress, to make processing observably asynchronous (default 200 ms). */
  processingDelayMs?: number;
  /** Records processed per event-loop turn while InProgress (default 200). */
  chunkSize?: number;
  /** Pause between chunks, to make a job stay InProgress long enough to watch or abort (default 0). */
  chunkDelayMs?: number;
}

type Column =
  | { kind: 'field'; header: string; field: FieldDef }
  | { kind: 'foreignKey'; header: string; field: FieldDef; target: ObjectDef; targetField: FieldDef };

interface IngestJob {
  id: string;
  object: ObjectDef;
  operation: IngestOperation;
  externalIdField: FieldDef | undefined;
  lineEnding: 'LF' | 'CRLF';
  columnDelimiter: string;
  state: JobState;
  createdDate: string;
  systemModstamp: string;
  apiVersion: string;
  data: string | undefined;
  header: string[];
  successful: Array<{ id: string; created: boolean; cells: string[] }>;
  failed: Array<{ id: string; error: string; cells: string[] }>;
  unprocessed: string[][];
  processed: number;
  errorMessage: string | undefined;
  startedAt: number | undefined;
  finishedAt: number | undefined;
  timer: NodeJS.Timeout | undefined;
}

const jobError = (errorCode: string, message: string, status = 400) => new SalesforceError(errorCode, message, { status });

/**
 * Bulk API 2.0 ingest jobs: create, one CSV upload, UploadComplete, asynchronous processing in chunks,
 * then successful/failed/unprocessed results as CSV.
 */
export class BulkIngest {
  private readonly jobs = new Map<string, IngestJob>();
  private readonly delayMs: number;
  private readonly chunkSize: number;
  private readonly chunkDelayMs: number;

  constructor(
    private readonly schema: Schema,
    private readonly store: RecordStore,
    private readonly ids: IdGenerator,
    private readonly usage: ApiUsage,
    private readonly now: () => Date,
    options: BulkOptions = {},
  ) {
    this.delayMs = options.processingDelayMs ?? 200;
    this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    this.chunkDelayMs = options.chunkDelayMs ?? 0;
  }

  /** Stops pending processing and forgets every job. */
  reset(): void {
    for (const job of this.jobs.values()) clearTimeout(job.timer);
    this.jobs.clear();
  }

  counts(): Record<JobState, number> {
    const out: Record<JobState, number> = { Open: 0, UploadComplete: 0, InProgress: 0, JobComplete: 0, Failed: 0, Aborted: 0 };
    for (const job of this.jobs.values()) out[job.state]++;
    return out;
  }

  create(body: unknown, version: string): Record<string, unknown> {
    if (!isPlainObject(body)) throw jobError('INVALIDJOB', 'Invalid job request body');
    const objectName = typeof body.object === 'string' ? body.object : '';
    const operation = body.operation as IngestOperation;
    if (!OPERATIONS.includes(operation)) throw jobError('INVALIDJOB', `InvalidJob : Invalid operation: ${String(body.operation)}`);
    const obj = this.schema.get(objectName);
    if (!obj) throw jobError('INVALIDJOB', `InvalidJob : Unable to find object: ${objectName}`);
    if (obj.readOnly) throw jobError('INVALIDJOB', `InvalidJob : Entity '${obj.name}' is not supported by the Bulk API.`);
    const contentType = body.contentType ?? 'CSV';
    if (contentType !== 'CSV') throw jobError('INVALIDJOB', `InvalidJob : Unsupported content type: ${String(contentType)}`);
    const lineEnding = body.lineEnding ?? 'LF';
    if (lineEnding !== 'LF' && lineEnding !== 'CRLF') throw jobError('INVALIDJOB', `InvalidJob : Invalid line ending: ${String(lineEnding)}`);
    const columnDelimiter = typeof body.columnDelimiter === 'string' ? body.columnDelimiter : 'COMMA';
    if (!(columnDelimiter in COLUMN_DELIMITERS)) throw jobError('INVALIDJOB', `InvalidJob : Invalid column delimiter: ${columnDelimiter}`);
    let externalIdField: FieldDef | undefined;
    if (operation === 'upsert') {
      const name = typeof body.externalIdFieldName === 'string' ? body.externalIdFieldName : '';
      if (!name) throw jobError('INVALIDJOB', `InvalidJob : External ID was blank for ${obj.name}. An External ID must be specified for upsert.`);
      externalIdField = obj.fieldsByLower.get(name.toLowerCase());
      if (!externalIdField || !(externalIdField.externalId || externalIdField.type === 'id')) {
        throw jobError('INVALIDJOB', `InvalidJob : Field name provided, ${name} is not an External Id or indexed field for ${obj.name}`);
      }
    }
    const stamp = formatDateTime(this.now().getTime());
    const job: IngestJob = {
      id: this.ids.next('750'),
      object: obj,
      operation,
      externalIdField,
      lineEnding,
      columnDelimiter,
      state: 'Open',
      createdDate: stamp,
      systemModstamp: stamp,
      apiVersion: version,
      data: undefined,
      header: [],
      successful: [],
      failed: [],
      unprocessed: [],
      processed: 0,
      errorMessage: undefined,
      startedAt: undefined,
      finishedAt: undefined,
      timer: undefined,
    };
    this.jobs.set(job.id, job);
    return this.info(job, false);
  }

  private get(id: string): IngestJob {
    const job = this.jobs.get(id);
    if (!job) throw notFound();
    return job;
  }

  upload(id: string, contentType: string | undefined, text: string): void {
    const job = this.get(id);
    if (job.state !== 'Open' || job.data !== undefined) {
      throw jobError('INVALIDJOBSTATE', 'Job data can be uploaded only once, while the job is Open', 409);
    }
    if (!contentType || !/^text\/csv\b/i.test(contentType)) {
      throw jobError('INVALIDCONTENTTYPE', `Content-Type must be text/csv, got ${contentType ?? 'none'}`, 415);
    }
    if (Buffer.byteLength(text) > MAX_UPLOAD_BYTES) throw jobError('INVALIDBATCH', 'Upload exceeds the 150 MB limit for one job', 413);
    job.data = text;
  }

  patch(id: string, body: unknown): Record<string, unknown> {
    const job = this.get(id);
    const state = isPlainObject(body) ? body.state : undefined;
    if (state === 'UploadComplete') {
      if (job.state !== 'Open') throw jobError('INVALIDJOBSTATE', `Job state ${job.state} cannot change to UploadComplete`, 409);
      this.touch(job);
      if (job.data === undefined) {
        // Closing a job that never received data fails it, as Salesforce does.
        job.state = 'Failed';
        job.errorMessage = 'InvalidBatch : No data was uploaded for this job';
      } else {
        job.state = 'UploadComplete';
        job.timer = setTimeout(() => this.start(job), this.delayMs);
        job.timer.unref();
      }
    } else if (state === 'Aborted') {
      if (job.state === 'JobComplete' || job.state === 'Failed' || job.state === 'Aborted') {
        throw jobError('INVALIDJOBSTATE', `Job state ${job.state} cannot change to Aborted`, 409);
      }
      clearTimeout(job.timer);
      job.state = 'Aborted';
      this.touch(job);
    } else {
      throw jobError('INVALIDJOBSTATE', `Invalid state change: ${String(state)}`);
    }
    return this.info(job, false);
  }

  delete(id: string): void {
    const job = this.get(id);
    if (job.state === 'Open' || job.state === 'InProgress') {
      throw jobError('INVALIDJOBSTATE', 'Only jobs in UploadComplete, JobComplete, Aborted or Failed state can be deleted', 409);
    }
    clearTimeout(job.timer);
    this.jobs.delete(id);
  }

  getInfo(id: string): Record<string, unknown> {
    return this.info(this.get(id), true);
  }

  list(): Record<string, unknown> {
    return { done: true, records: [...this.jobs.values()].map((j) => this.info(j, false)), nextRecordsUrl: null };
  }

  results(id: string, kind: 'successful' | 'failed' | 'unprocessed'): string {
    const job = this.get(id);
    const delimiter = COLUMN_DELIMITERS[job.columnDelimiter] ?? ',';
    const eol = job.lineEnding === 'CRLF' ? '\r\n' : '\n';
    if (job.header.length === 0 && kind !== 'unprocessed') return '';
    switch (kind) {
      case 'successful':
        return toCsv(['sf__Id', 'sf__Created', ...job.header], job.successful.map((r) => [r.id, String(r.created), ...r.cells]), delimiter, eol);
      case 'failed':
        return toCsv(['sf__Id', 'sf__Error', ...job.header], job.failed.map((r) => [r.id, r.error, ...r.cells]), delimiter, eol);
      case 'unprocessed':
        // Aborted before processing began: every uploaded record is unprocessed, exactly as sent.
        if (job.header.length === 0) return job.state === 'Aborted' ? (job.data ?? '') : '';
        return toCsv(job.header, job.unprocessed, delimiter, eol);
    }
  }

  private touch(job: IngestJob): void {
    job.systemModstamp = formatDateTime(this.now().getTime());
  }

  private info(job: IngestJob, full: boolean): Record<string, unknown> {
    const base: Record<string, unknown> = {
      id: job.id,
      operation: job.operation,
      object: job.object.name,
      createdById: this.store.user.id,
      createdDate: job.createdDate,
      systemModstamp: job.systemModstamp,
      state: job.state,
      ...(job.externalIdField ? { externalIdFieldName: job.externalIdField.name } : {}),
      concurrencyMode: 'Parallel',
      contentType: 'CSV',
      apiVersion: Number(job.apiVersion),
      ...(full ? { jobType: 'V2Ingest' } : {}),
      contentUrl: `services/data/v${job.apiVersion}/jobs/ingest/${job.id}/batches`,
      lineEnding: job.lineEnding,
      columnDelimiter: job.columnDelimiter,
    };
    if (!full) return base;
    const elapsed = job.startedAt === undefined ? 0 : (job.finishedAt ?? Date.now()) - job.startedAt;
    return {
      ...base,
      numberRecordsProcessed: job.processed,
      numberRecordsFailed: job.failed.length,
      retries: 0,
      totalProcessingTime: elapsed,
      apiActiveProcessingTime: elapsed,
      apexProcessingTime: 0,
      ...(job.errorMessage ? { errorMessage: job.errorMessage } : {}),
    };
  }

  // --- processing ------------------------------------------------------------------------------------

  private fail(job: IngestJob, message: string): void {
    job.state = 'Failed';
    job.errorMessage = message;
    job.finishedAt = Date.now();
    this.touch(job);
  }

  private start(job: IngestJob): void {
    if (job.state !== 'UploadComplete') return;
    job.state = 'InProgress';
    job.startedAt = Date.now();
    this.touch(job);
    const text = job.data ?? '';
    const eol = job.lineEnding === 'CRLF' ? '\r\n' : '\n';
    const firstBreak = text.indexOf('\n');
    const headerCrlf = firstBreak > 0 && text.charAt(firstBreak - 1) === '\r';
    if (firstBreak >= 0 && headerCrlf !== (eol === '\r\n')) {
      this.fail(job, `ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is ${job.lineEnding}`);
      return;
    }
    let rows: string[][];
    try {
      rows = parseCsv(text, COLUMN_DELIMITERS[job.columnDelimiter] ?? ',').filter((r) => !(r.length === 1 && r[0] === ''));
    } catch (err) {
      if (err instanceof CsvFormatError) {
        this.fail(job, `ClientInputError : ${err.message}`);
        return;
      }
      throw err;
    }
    const header = rows.shift();
    if (!header) {
      this.fail(job, 'InvalidBatch : Empty CSV: no header row');
      return;
    }
    job.header = header;
    const columns = this.resolveColumns(job, header);
    if (typeof columns === 'string') {
      this.fail(job, columns);
      return;
    }
    const wrongWidth = rows.findIndex((r) => r.length !== header.length);
    if (wrongWidth >= 0) {
      this.fail(job, `ClientInputError : Row ${wrongWidth + 2} has ${rows[wrongWidth]?.length ?? 0} columns but the header has ${header.length}`);
      return;
    }
    this.usage.bulkBatches += Math.max(1, Math.ceil(rows.length / RECORDS_PER_BATCH));
    job.unprocessed = rows;
    const step = () => {
      // An abort stops processing between chunks; what is left stays in unprocessedrecords.
      if (job.state !== 'InProgress') return;
      const chunk = job.unprocessed.splice(0, this.chunkSize);
      this.processChunk(job, columns, chunk);
      if (job.unprocessed.length > 0) {
        job.timer = setTimeout(step, this.chunkDelayMs);
        job.timer.unref();
        return;
      }
      job.state = 'JobComplete';
      job.finishedAt = Date.now();
      this.touch(job);
    };
    step();
  }

  /** Maps header names to fields; a string is the job's failure message. */
  private resolveColumns(job: IngestJob, header: string[]): Column[] | string {
    const seen = new Set<string>();
    const columns: Column[] = [];
    for (const name of header) {
      const lower = name.trim().toLowerCase();
      if (seen.has(lower)) return `InvalidBatch : Duplicate field name: ${name}`;
      seen.add(lower);
      const dot = lower.indexOf('.');
      if (dot > 0) {
        const rel = job.object.relationships.get(lower.slice(0, dot));
        const target = rel && rel.referenceTo.length === 1 ? this.schema.get(rel.referenceTo[0] ?? '') : undefined;
        const targetField = target?.fieldsByLower.get(lower.slice(dot + 1));
        if (!rel || !target || !targetField || !(targetField.externalId || targetField.idLookup)) {
          return `InvalidBatch : Field name not found : ${name}`;
        }
        columns.push({ kind: 'foreignKey', header: name, field: rel, target, targetField });
        continue;
      }
      const field = job.object.fieldsByLower.get(lower);
      if (!field) return `InvalidBatch : Field name not found : ${name}`;
      columns.push({ kind: 'field', header: name, field });
    }
    const needs = job.operation === 'upsert' ? job.externalIdField : job.operation === 'insert' ? undefined : job.object.fieldsByLower.get('id');
    if (needs && !columns.some((c) => c.kind === 'field' && c.field === needs)) {
      return `InvalidBatch : Required column is missing: ${needs.name}`;
    }
    return columns;
  }

  private processChunk(job: IngestJob, columns: Column[], rows: string[][]): void {
    const extField = job.externalIdField;
    const extCol = extField ? columns.findIndex((c) => c.kind === 'field' && c.field === extField) : -1;
    const idCol = columns.findIndex((c) => c.kind === 'field' && c.field.type === 'id');
    // Salesforce rejects every row of a chunk that repeats an external id, rather than picking one.
    const extCounts = new Map<string, number>();
    if (extField && extCol >= 0) {
      for (const r of rows) {
        const key = extField.caseSensitive ? (r[extCol] ?? '') : (r[extCol] ?? '').toLowerCase();
        if (key) extCounts.set(key, (extCounts.get(key) ?? 0) + 1);
      }
    }
    for (const cells of rows) {
      job.processed++;
      let knownId = '';
      try {
        switch (job.operation) {
          case 'insert': {
            const row = this.store.insert(job.object, this.rowValues(columns, cells, 'insert'));
            job.successful.push({ id: row.Id as string, created: true, cells });
            break;
          }
          case 'update': {
            knownId = cells[idCol] ?? '';
            if (!knownId) throw new SalesforceError('MISSING_ARGUMENT', 'Id not specified in an update call', { fields: [] });
            const row = this.store.update(job.object, knownId, this.rowValues(columns, cells, 'update'));
            job.successful.push({ id: row.Id as string, created: false, cells });
            break;
          }
          case 'upsert': {
            const result = this.upsertRow(job, columns, cells, extCol, idCol, extCounts);
            job.successful.push({ id: result.row.Id as string, created: result.created, cells });
            break;
          }
          case 'delete':
          case 'hardDelete': {
            knownId = cells[idCol] ?? '';
            if (!knownId) throw new SalesforceError('MISSING_ARGUMENT', 'Id not specified in a delete call', { fields: [] });
            const existing = this.store.get(job.object, knownId);
            this.store.delete(job.object, knownId, { hard: job.operation === 'hardDelete' });
            job.successful.push({ id: (existing?.Id as string | undefined) ?? knownId, created: false, cells });
            break;
          }
        }
      } catch (err) {
        if (!(err instanceof SalesforceError)) throw err;
        job.failed.push({ id: knownId, error: err.toBulkError(), cells });
      }
    }
  }

  private upsertRow(
    job: IngestJob,
    columns: Column[],
    cells: string[],
    extCol: number,
    idCol: number,
    extCounts: Map<string, number>,
  ): { row: Row; created: boolean } {
    const extField = job.externalIdField as FieldDef;
    const raw = cells[extCol] ?? '';
    if (raw === '' || raw === '#N/A') throw new SalesforceError('MISSING_ARGUMENT', `${extField.name} not specified`, { fields: [] });
    if ((extCounts.get(extField.caseSensitive ? raw : raw.toLowerCase()) ?? 0) > 1) {
      throw new SalesforceError('DUPLICATE_EXTERNAL_ID', `Duplicate external id specified: ${raw}`, { fields: [extField.name] });
    }
    // jsforce always sends an Id column (blank) on upsert; a blank Id is simply not a value.
    if (idCol >= 0 && idCol !== extCol && (cells[idCol] ?? '') !== '') {
      throw new SalesforceError('INVALID_FIELD_FOR_INSERT_UPDATE', 'Unable to create/update fields: Id. Use an update job to write by record Id.', { fields: ['Id'] });
    }
    const value = fromCsv(extField, raw) as FieldValue;
    const matches = this.store.findBy(job.object, extField, value);
    if (matches.length > 1) {
      throw new SalesforceError(
        'DUPLICATE_EXTERNAL_ID',
        `${extField.label}: more than one record found for external id field: [${matches.map((m) => String(m.Id)).join(', ')}]`,
        { fields: [extField.name] },
      );
    }
    const existing = matches[0];
    if (existing) {
      return { row: this.store.update(job.object, existing.Id as string, this.rowValues(columns, cells, 'update')), created: false };
    }
    if (extField.type === 'id') throw new SalesforceError('INVALID_CROSS_REFERENCE_KEY', 'invalid cross reference id', { fields: [] });
    return { row: this.store.insert(job.object, this.rowValues(columns, cells, 'insert')), created: true };
  }

  private rowValues(columns: Column[], cells: string[], mode: 'insert' | 'update'): Values {
    const values: Values = new Map();
    columns.forEach((col, i) => {
      const cell = cells[i] ?? '';
      if (col.kind === 'field' && col.field.type === 'id') return;
      if (col.kind === 'foreignKey') {
        const v = fromCsv(col.targetField, cell);
        if (v === undefined) return;
        values.set(col.field, v === null ? null : { kind: 'foreignKey', target: col.target, field: col.targetField, value: v });
        return;
      }
      const v = fromCsv(col.field, cell);
      // Blank cells leave a field alone on update and unset on insert.
      if (v === undefined) return;
      if (mode === 'insert' && v === null) return;
      values.set(col.field, v);
    });
    return values;
  }
}
