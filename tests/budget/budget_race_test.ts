import { budgetRaceTest } from "../support/budget_race.ts";

// The node's own SQLite store (BEGIN IMMEDIATE and a conditional update).
budgetRaceTest("sqlite", () => Promise.resolve(undefined));
