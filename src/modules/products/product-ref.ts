import { ApiError } from '../../common/errors/api-error';

/** A product as a request names it: by id or by SKU (any case). */
export interface ProductRef {
  productId?: number;
  sku?: string;
}

/** 404 naming the product as the request named it. */
export const productNotFound = (ref: ProductRef) =>
  ApiError.notFound('Product', ref.productId !== undefined ? { productId: ref.productId } : { sku: ref.sku });
