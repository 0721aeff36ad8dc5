/** Assembly of an AOS node from its parts. */
export { type AosNode, type NodeSeams, openNode } from "./node.ts";
