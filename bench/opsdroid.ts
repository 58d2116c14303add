/** The opsdroid driver for the benchmarks: the same helper the integration tests use (one copy). */
export * from "../test/helpers/opsdroid.js";
