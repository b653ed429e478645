// Typed errors of the simulation harness, each with a stable code.

export type SimulationErrorCode =
  | 'invalid-scenario'    // the scenario file does not say something the harness can run; `problems` names each key
  | 'scenario-not-found'  // no such file, and no shipped scenario of that name

export class SimulationError extends Error {
  override readonly name = 'SimulationError'
  readonly code: SimulationErrorCode
  /** One line per problem, each starting with the key it is about (`events[2].at: ...`). */
  readonly problems: readonly string[]

  constructor (code: SimulationErrorCode, message: string, problems: readonly string[] = []) {
    super(problems.length > 0 ? `${message}\n  ${problems.join('\n  ')}` : message)
    this.code = code
    this.problems = problems
  }
}
