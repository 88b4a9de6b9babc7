/**
 * One error shape for every route: {error: {code, message, field?}}. Typed Conveyor errors
 * map to 4xx by code; Fastify's own (bad JSON, schema, size) keep their 4xx; anything
 * else is a 500 that says nothing about the internals.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ConveyorError, ValidationError } from '../core/errors.ts';

const STATUS: Record<string, number> = {
  VALIDATION: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  STATE: 409,
  QUEUE_FULL: 429,
  CONNECTION: 503,
  TIMEOUT: 408,
  TOO_LARGE: 413,
  STORAGE_LOST: 503,
  STORAGE_FULL: 507,
};

export function errorBody(code: string, message: string, field?: string) {
  return { error: { code, message, ...(field ? { field } : {}) } };
}

/**
 * Fastify's and its plugins' own errors, in our codes and words: their FST_* codes are
 * internal names, not part of the API.
 */
const FASTIFY: Record<string, { status: number; code: string; message: (err: FastifyError) => string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'VALIDATION', message: (e) => (/prototype|constructor/i.test(e.message) ? 'the body is refused: JSON objects may not have the keys "__proto__" or "constructor.prototype"' : 'the body is not valid JSON') },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'VALIDATION', message: () => 'the body is empty; send a JSON object' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'TOO_LARGE', message: () => 'the body is larger than this server accepts' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'CONTENT_TYPE', message: (e) => `unsupported content type${/: (.*)$/.exec(e.message)?.[1] ? `: ${/: (.*)$/.exec(e.message)![1]}` : ''}` },
  FST_FILES_LIMIT: { status: 413, code: 'TOO_LARGE', message: () => 'too many files in one upload' },
  FST_PARTS_LIMIT: { status: 413, code: 'TOO_LARGE', message: () => 'too many parts in one upload' },
  FST_FIELDS_LIMIT: { status: 413, code: 'TOO_LARGE', message: () => 'too many form fields in one upload' },
  FST_REQ_FILE_TOO_LARGE: { status: 413, code: 'TOO_LARGE', message: () => 'a file is larger than the upload limit' },
  FST_INVALID_MULTIPART_CONTENT_TYPE: { status: 415, code: 'CONTENT_TYPE', message: () => 'send the files as multipart/form-data' },
};

/**
 * A JSON body, refusing keys that would reach an object's prototype when merged
 * ("__proto__", or "constructor" holding "prototype"): no route needs them.
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw new ValidationError('the body is empty; send a JSON object', 'body');
  let forbidden = false;
  let value: unknown;
  try {
    value = JSON.parse(text, function (this: unknown, key, v) {
      if (key === '__proto__' || (key === 'constructor' && v !== null && typeof v === 'object' && 'prototype' in v)) forbidden = true;
      return v;
    });
  } catch {
    throw new ValidationError('the body is not valid JSON', 'body');
  }
  if (forbidden) throw new ValidationError('the body is refused: JSON objects may not have the keys "__proto__" or "constructor.prototype"', 'body');
  return value;
}

export function httpStatusOf(err: unknown): number {
  const known = FASTIFY[(err as FastifyError)?.code];
  if (known) return known.status;
  if (err instanceof ConveyorError) return STATUS[err.code] ?? 400;
  const status = (err as FastifyError).statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : 500;
}

export function errorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  const status = httpStatusOf(err);
  if (status >= 500) {
    req.log.error({ err }, 'request failed');
    void reply.status(status).send(errorBody(err instanceof ConveyorError ? err.code : 'INTERNAL', err instanceof ConveyorError ? err.message : 'internal error'));
    return;
  }
  const known = FASTIFY[err.code];
  if (known) {
    void reply.status(status).send(errorBody(known.code, known.message(err)));
    return;
  }
  const code = err instanceof ConveyorError ? err.code : err.validation ? 'VALIDATION' : 'BAD_REQUEST';
  const field = err instanceof ValidationError ? err.field : undefined;
  void reply.status(status).send(errorBody(code, err.message, field));
}
