// The public entry of the simulator: load a scenario, run it with real nodes in this process, write its report.

export { runSimulation, measure } from './run.ts'
export type { Progress, RunOptions } from './run.ts'
export { buildReport, meshFigures, reportMarkdown, writeReport } from './report.ts'
export type { Report } from './report.ts'
export type { CallRecord, ConvergenceKind, ConvergenceRecord, EventRecord, Measurements, Sample } from './records.ts'
export { loadScenario, parseScenario, validateScenario, shippedScenarios } from './scenario.ts'
export type { Scenario, ScenarioOverrides } from './scenario.ts'
export { SimulationError } from './errors.ts'
export type { SimulationErrorCode } from './errors.ts'
