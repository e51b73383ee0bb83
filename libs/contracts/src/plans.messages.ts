import { Type } from 'class-transformer';
import { IsInt, IsObject, IsOptional, IsString, Matches, Min } from 'class-validator';
import { SLUG_PATTERN, type PlanDefinition } from './plan.schema';

/** Register a plan from its JSON form or its YAML source (exactly one of the two). */
export class RegisterPlanCommand {
  /** The plan as a JSON object. */
  @IsOptional()
  @IsObject()
  definition?: Record<string, unknown>;

  /** The plan as YAML text. */
  @IsOptional()
  @IsString()
  yaml?: string;

  /** The plan's id, for a plan file that has none (`POST /v1/plans?id=`); must equal the file's when both are given. */
  @IsOptional()
  @Matches(SLUG_PATTERN)
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
  @IsString()
  id: string;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
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
