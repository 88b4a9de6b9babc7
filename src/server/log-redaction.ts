/**
 * Request logs that never carry a secret: the query string is cut from every logged URL
 * (a token or a signed parameter may be in it), and authorization and cookie headers are
 * redacted wherever they appear.
 */
import type { FastifyRequest } from 'fastify';

export function redacting(logger: true | object): object {
  const base = logger === true ? {} : logger;
  return {
    ...base,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'token', '*.token'], censor: '[redacted]' },
    serializers: {
      req(req: FastifyRequest) {
        const [path, query] = req.url.split('?');
        return { method: req.method, url: query === undefined ? path : `${path}?[query redacted]`, host: req.headers.host, remoteAddress: req.ip };
      },
    },
  };
}
