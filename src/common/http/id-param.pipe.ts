import { Injectable, PipeTransform } from '@nestjs/common';
import { ApiError } from '../errors/api-error';

/** Ids in paths are positive integers; anything else is a 400 naming the parameter. */
@Injectable()
export class IdParamPipe implements PipeTransform<string, number> {
  transform(value: string): number {
    if (!/^\d{1,15}$/.test(value) || Number(value) < 1) {
      throw ApiError.validation({ id: ['id must be a positive integer'] });
    }
    return Number(value);
  }
}
