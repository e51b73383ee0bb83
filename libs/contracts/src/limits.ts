// ---------------------------------------------------------------------------------------------
// CEL expressions of a plan (`when:` today; step inputs, outputs and fan-out read them too).
// Checked at registration (the static limits) and enforced while evaluating (the cost budget).
// docs/limits.md explains each figure.
// ---------------------------------------------------------------------------------------------

/** Limits on the CEL expressions of a plan. */
export const CEL_LIMITS = {
  /** Characters in one expression: a real condition is a line or two, this is fifty. */
  expressionLength: 2048,
  /** Characters in all the expressions of one plan, so registration parses a bounded amount of CEL. */
  planExpressionsLength: 16_384,
  /** Depth of brackets and of operators; the parser backtracks over unclosed brackets (300 took 1.4 s). */
  nesting: 32,
  /** Nodes of the parsed expression, macro expansions included. */
  nodes: 500,
  /** Macros that iterate (`all`, `exists`, `exists_one`, `map`, `filter`) in one expression. */
  comprehensions: 8,
  /** Iterating macros inside the body of another (`a.all(x, x.b.exists(y, …))` is 2). */
  comprehensionNesting: 2,
  /** Characters of a literal `matches()` pattern. */
  regexPatternLength: 256,
  /**
   * Cost units one evaluation may spend (a unit is an iterated node, a list element, or 16
   * characters scanned; see docs/limits.md). An evaluation past it fails deterministically,
   * the same way on every replica.
   */
  costBudget: 100_000,
} as const;
