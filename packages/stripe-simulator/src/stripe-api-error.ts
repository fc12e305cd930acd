/** An answer of the fake Stripe API in Stripe's error shape: `{ error: { type, code?, param?, message, doc_url? } }`. */
export class StripeApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: 'invalid_request_error' | 'api_error',
    message: string,
    readonly code?: string,
    readonly param?: string,
  ) {
    super(message);
  }

  get body(): { error: Record<string, string> } {
    const error: Record<string, string> = { type: this.type, message: this.message };
    if (this.code !== undefined) {
      error.code = this.code;
      error.doc_url = `https://stripe.com/docs/error-codes/${this.code.replaceAll('_', '-')}`;
    }
    if (this.param !== undefined) error.param = this.param;
    return { error };
  }

  /** 404 `resource_missing`, as for `GET /v1/subscriptions/sub_unknown`: "No such subscription: 'sub_unknown'". */
  static missing(kind: string, id: string, param = 'id'): StripeApiError {
    return new StripeApiError(404, 'invalid_request_error', `No such ${kind}: '${id}'`, 'resource_missing', param);
  }

  /** 400 for a malformed parameter. */
  static invalid(param: string, message: string, code = 'parameter_invalid'): StripeApiError {
    return new StripeApiError(400, 'invalid_request_error', message, code, param);
  }
}
