/** The HTTP API (Hono). */
export { type ApiDeps, createApp } from "./app.ts";
export { errorResponse, parseWith, readJson, zodIssues } from "./errors.ts";
