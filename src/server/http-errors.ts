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
};

export function errorBody(code: string, message: string, field?: string) {
  return { error: { code, message, ...(field ? { field } : {}) } };
}

export function httpStatusOf(err: unknown): number {
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
  const code = err instanceof ConveyorError ? err.code : err.validation ? 'VALIDATION' : (err.code ?? 'BAD_REQUEST');
  const field = err instanceof ValidationError ? err.field : undefined;
  void reply.status(status).send(errorBody(code, err.message, field));
}
