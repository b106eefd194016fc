import Ajv, { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

interface OpenApiDocument {
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content?: Record<string, { schema?: object }> }> }>
  >;
  components: { schemas: Record<string, object> };
}

const DOCUMENT_ID = 'openapi.json';

/**
 * OpenAPI 3.0 schema → JSON Schema for ajv: `nullable: true` becomes "or null" (also around an
 * allOf/$ref, where ajv's own nullable support does not reach), and $refs point into the document.
 */
function toJsonSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toJsonSchema);
  if (!schema || typeof schema !== 'object') return schema;
  const { nullable, ...rest } = schema as Record<string, unknown>;
  const converted = Object.fromEntries(
    Object.entries(rest).map(([key, value]) => [
      key,
      key === '$ref' && typeof value === 'string' && value.startsWith('#')
        ? `${DOCUMENT_ID}${value}`
        : key === 'example'
          ? value
          : toJsonSchema(value),
    ]),
  );
  return nullable === true ? { anyOf: [converted, { type: 'null' }] } : converted;
}

/**
 * Validates answers against the response schemas a served OpenAPI document declares, by
 * (method, route template, status): `validator.check('post', '/api/stock/out', res.status, res.body)`
 * throws with ajv's errors when the answer does not match, or when the document declares no JSON
 * schema for it.
 */
export class ResponseValidator {
  private readonly ajv = new Ajv({ strict: false, allErrors: true });
  private readonly compiled = new Map<string, ValidateFunction>();
  /** Every (method route status) checked, so a suite can tell which declared answers it covered. */
  readonly checked = new Set<string>();

  constructor(private readonly document: OpenApiDocument) {
    addFormats(this.ajv);
    this.ajv.addSchema({ $id: DOCUMENT_ID, components: toJsonSchema(document.components) as object });
  }

  check(method: string, route: string, status: number, body: unknown): void {
    const key = `${method.toLowerCase()} ${route} ${status}`;
    let validate = this.compiled.get(key);
    if (!validate) {
      const response = this.document.paths[route]?.[method.toLowerCase()]?.responses[String(status)];
      const schema = response?.content?.['application/json']?.schema;
      if (!schema) throw new Error(`${key}: the document declares no JSON body for this answer`);
      validate = this.ajv.compile(toJsonSchema(schema) as object);
      this.compiled.set(key, validate);
    }
    this.checked.add(key);
    if (!validate(body)) {
      throw new Error(
        `${key}: the answer does not match its declared schema:\n${this.ajv.errorsText(validate.errors, { separator: '\n' })}\n` +
          JSON.stringify(body).slice(0, 2000),
      );
    }
  }
}
