import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { FixedLimits, IsText } from './limits';

/** Cursor pagination shared by every list query: pass `nextCursor` back as `cursor`. */
export class PageQuery {
  /** Opaque; from the previous page's `nextCursor`. */
  @IsOptional()
  @IsText(FixedLimits.cursorLength)
  cursor?: string;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;
}

/** One page of a list; `nextCursor` is null on the last page. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Default page size when a query gives no `limit`. */
export const DEFAULT_PAGE_SIZE = 50;
