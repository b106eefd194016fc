/** A stored first answer, sent again verbatim (with Idempotent-Replayed: true) by the exception filter. */
export class IdempotentReplay extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super('idempotent replay');
  }
}
