/**
 * A recursive CTE `outcome_pools ("pool")`: every pool that has outcome rows, plus one NULL row
 * that ends the recursion (filter it out). One probe of `task_outcomes_pool_at_idx` per pool (a
 * loose index scan), however many rows each has: a condition on `at` alone cannot use that
 * index, which leads with the pool, so readers of a time range go pool by pool from here. Put it
 * first in a `WITH RECURSIVE`.
 */
export const OUTCOME_POOLS_CTE = `outcome_pools AS (
  (SELECT "pool" FROM "ops"."task_outcomes" ORDER BY "pool" LIMIT 1)
  UNION ALL
  SELECT (SELECT t."pool" FROM "ops"."task_outcomes" AS t WHERE t."pool" > p."pool" ORDER BY t."pool" LIMIT 1)
  FROM outcome_pools AS p WHERE p."pool" IS NOT NULL
)`;
