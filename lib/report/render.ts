import sharp from 'sharp';
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/**
 * A Vega-Lite spec as a static SVG string, rendered headless in Node. Vega writes each datum's tooltip
 * as an aria-label; it is copied into a <title> child too, so a browser shows it on hover without a script.
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return withTitles(await view.toSVG());
  } finally {
    view.finalize();
  }
}

/** Vega's SVG items are self-closing elements; the label is already XML-escaped by Vega. */
function withTitles(svg: string): string {
  return svg.replace(
    /<(path|line|text|circle|rect)( aria-label="([^"]*)" role="graphics-symbol"[^>]*?)\/>/g,
    (_, tag: string, attributes: string, label: string) => `<${tag}${attributes}><title>${label}</title></${tag}>`,
  );
}

/** The PNG copy of a chart, at twice the SVG's pixel size so it stays sharp on high-density screens. */
export async function renderPng(svg: string): Promise<Buffer> {
  return sharp(Buffer.from(svg), { density: 144 }).png().toBuffer();
}
