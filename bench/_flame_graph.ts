/**
 * Draws a call tree (`callTree` of `profile_summary.ts`) as a flame graph in
 * SVG: one box per frame, as wide as its share of the sampled time, callers
 * below their callees; a box's tooltip names the frame with its time. Boxes
 * narrower than `minShare` are left out (their time stays in the parent).
 * Colours say whose code a frame is: AOS's, an npm package's, Deno's own,
 * or the engine's (idle, garbage collection, program).
 */
import type { CallTreeNode } from "./profile_summary.ts";

/** Options of `flameGraphSvg`. */
export interface FlameGraphOptions {
  title: string;
  /** Width in pixels (default 1200). */
  width?: number;
  /** Smallest share of the time drawn, in percent (default 0.1). */
  minShare?: number;
}

const ROW_PX = 17;
const TOP_PX = 40;
const FONT_PX = 11;
/** About how wide a character of the label font is. */
const CHAR_PX = 6.2;

/** The SVG text of `tree` as a flame graph. */
export function flameGraphSvg(
  tree: CallTreeNode,
  options: FlameGraphOptions,
): string {
  const width = options.width ?? 1200;
  const minShare = options.minShare ?? 0.1;
  const scale = tree.us === 0 ? 0 : width / tree.us;
  const boxes: { x: number; depth: number; node: CallTreeNode }[] = [];
  let depthMax = 0;
  const place = (node: CallTreeNode, x: number, depth: number) => {
    if (100 * node.us / Math.max(tree.us, 1) < minShare) return;
    boxes.push({ x, depth, node });
    depthMax = Math.max(depthMax, depth);
    let childX = x;
    for (const child of node.children) {
      place(child, childX, depth + 1);
      childX += child.us * scale;
    }
  };
  place(tree, 0, 0);
  const height = TOP_PX + (depthMax + 1) * ROW_PX + 10;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="monospace" font-size="${FONT_PX}">`,
    `<rect width="100%" height="100%" fill="#fdfdf8"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15">${
      escapeXml(options.title)
    }</text>`,
    `<text x="${width / 2}" y="34" text-anchor="middle" fill="#555">${
      escapeXml(
        `${
          (tree.us / 1000).toFixed(0)
        } ms sampled; width is time; callers below callees; hover for names`,
      )
    }</text>`,
  ];
  for (const { x, depth, node } of boxes) {
    const boxWidth = node.us * scale;
    const y = height - 10 - (depth + 1) * ROW_PX;
    const share = (100 * node.us / tree.us).toFixed(2);
    const label = `${node.frame} (${share}%, ${
      (node.us / 1000).toFixed(1)
    } ms)`;
    out.push(
      `<g><title>${escapeXml(label)}</title><rect x="${
        x.toFixed(2)
      }" y="${y}" width="${Math.max(boxWidth - 0.5, 0.1).toFixed(2)}" height="${
        ROW_PX - 1
      }" fill="${colourOf(node.frame)}" rx="2"/>`,
    );
    const chars = Math.floor((boxWidth - 6) / CHAR_PX);
    if (chars >= 4) {
      const text = node.frame.length <= chars
        ? node.frame
        : `${node.frame.slice(0, chars - 2)}..`;
      out.push(
        `<text x="${(x + 3).toFixed(2)}" y="${y + ROW_PX - 5}">${
          escapeXml(text)
        }</text>`,
      );
    }
    out.push("</g>");
  }
  out.push("</svg>");
  return out.join("\n") + "\n";
}

/** The fill of a frame, by whose code it is. */
export function colourOf(frame: string): string {
  if (/^\((idle|garbage collector|program|root)\)/.test(frame)) {
    return "#c8c8c8";
  }
  if (/ (src|actors|bench)\//.test(frame)) return "#f2a65a";
  if (/ (npm:|node_modules\/)/.test(frame)) return "#8fc1e3";
  if (/ (ext:|node:)/.test(frame)) return "#a8d5a2";
  return "#e7d27c";
}

/** `text` with the five XML special characters escaped. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
