/** The contract's error body: {statusCode, code, message, details?, requestId}. */
const ERROR_KEYS = ['statusCode', 'code', 'message', 'details', 'requestId'];
const REQUIRED_KEYS = ERROR_KEYS.filter((key) => key !== 'details');

/** An answer from supertest, fetch or a raw node:http request. */
export interface Answer {
  status: number;
  headers: object;
  body: unknown;
}

type Json = Record<string, unknown>;
const header = (res: Answer, name: string) => (res.headers as Record<string, unknown>)[name];

/**
 * What is wrong with `res` as the contract's error answer `status` `code` — nothing when it is one:
 * JSON, every key of the body and no other, a message, and requestId = the X-Request-Id header.
 */
export function errorBodyProblems(res: Answer, status: number, code: string): string[] {
  const body = (res.body ?? {}) as Json;
  const keys = Object.keys(body);
  const problems = [
    res.status !== status && `status ${res.status}`,
    body.code !== code && `code ${String(body.code)}`,
    body.statusCode !== status && `statusCode ${String(body.statusCode)}`,
    ...REQUIRED_KEYS.filter((key) => !keys.includes(key)).map((key) => `no ${key}`),
    ...keys.filter((key) => !ERROR_KEYS.includes(key)).map((key) => `unexpected key ${key}`),
    (typeof body.message !== 'string' || body.message === '') && 'no message',
    (typeof body.requestId !== 'string' || body.requestId === '') && 'no requestId',
    body.requestId !== header(res, 'x-request-id') &&
      `requestId is not X-Request-Id ${String(header(res, 'x-request-id'))}`,
    !/^application\/json/.test(String(header(res, 'content-type'))) &&
      `content-type ${String(header(res, 'content-type'))}`,
  ];
  return problems.filter((problem): problem is string => typeof problem === 'string');
}

export function expectError(res: Answer, status: number, code: string): void {
  const body = (res.body ?? {}) as Json;
  expect({ status: res.status, code: body.code, problems: errorBodyProblems(res, status, code) }).toEqual({
    status,
    code,
    problems: [],
  });
}

function validationFields(res: Answer): Json {
  expectError(res, 400, 'VALIDATION_FAILED');
  const fields = ((res.body as Json).details as { fields?: Json } | undefined)?.fields;
  expect(fields).toEqual(expect.any(Object));
  expect(Object.keys(fields!).length).toBeGreaterThan(0);
  for (const messages of Object.values(fields!)) expect(messages).toEqual(expect.arrayContaining([expect.any(String)]));
  return fields!;
}

/** 400 VALIDATION_FAILED: details.fields gives each field it names at least one message, and names each of `fields`. */
export function expectValidation(res: Answer, fields: string[] = []): void {
  expect(Object.keys(validationFields(res))).toEqual(expect.arrayContaining(fields));
}

/** 400 VALIDATION_FAILED naming exactly `fields`. */
export function expectValidationExactly(res: Answer, fields: string[]): void {
  expect(Object.keys(validationFields(res)).sort()).toEqual([...fields].sort());
}

/** 400 VALIDATION_FAILED naming at least one of `fields`. */
export function expectValidationOneOf(res: Answer, fields: string[]): void {
  expect(Object.keys(validationFields(res)).filter((field) => fields.includes(field))).not.toEqual([]);
}

/** 404 NOT_FOUND whose details name `value` (the id, SKU or code that does not exist). */
export function expectNotFound(res: Answer, value: string | number): void {
  expectError(res, 404, 'NOT_FOUND');
  const details = (res.body as Json).details;
  expect(details).toEqual(expect.any(Object));
  expect(Object.values(details as Json)).toContain(value);
}
