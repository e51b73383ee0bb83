import { Type } from 'class-transformer';
import { IsInt, IsObject, IsOptional, IsString, Max, Min } from 'class-validator';
import { FixedLimits, INT4_MAX, IsBoundedJson, IsSafeText, IsSlug, IsText, limits, TextWithinBytes } from './limits';
import type { PlanDefinition } from './plan.schema';

/** Register a plan from its JSON form or its YAML source (exactly one of the two). */
export class RegisterPlanCommand {
  /** The plan as a JSON object. */
  @IsOptional()
  @IsObject()
  @IsBoundedJson(() => limits().planBytes)
  definition?: Record<string, unknown>;

  /** The plan as YAML text. */
  @IsOptional()
  @IsString()
  @IsSafeText()
  @TextWithinBytes(() => limits().planBytes)
  yaml?: string;

  /** The plan's id, for a plan file that has none (`POST /v1/plans?id=`); must equal the file's when both are given. */
  @IsOptional()
  @IsSlug()
  id?: string;
}

/** Answer to a registration: `created` is false when identical content was registered before. */
export interface RegisterPlanResult {
  id: string;
  version: number;
  created: boolean;
}

/** A stored plan version. */
export interface PlanView {
  id: string;
  version: number;
  title: string | null;
  definition: PlanDefinition;
  /** sha-256 of the canonical JSON of `definition`; equal content, equal hash. */
  contentHash: string;
  createdAt: string;
  createdBy: string;
}

/** Fetch the latest version of a plan, or a given one. */
export class GetPlanQuery {
  @IsText(FixedLimits.idLength)
  id: string;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(INT4_MAX)
  version?: number;
}

/** The latest version of each plan. */
export interface PlanSummary {
  id: string;
  latestVersion: number;
  title: string | null;
  updatedAt: string;
}

/** List plans (no filters yet). */
export class ListPlansQuery {}
