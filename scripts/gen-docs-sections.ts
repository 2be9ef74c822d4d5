import { detectorCatalogMarkdown } from '../lib/detections/index.ts';
import { runbooksMarkdown } from '../lib/containment/docs.ts';

/** Nests a document's headings one level deeper, under the README's own `##` section. */
function nest(markdown: string): string {
  return markdown.replace(/^(#{1,5}) /gm, '#$1 ');
}

/** README sections rendered by the stages' own modules (detector catalog, runbooks). */
export function generatedSections(): Record<string, string> {
  const runbooks = runbooksMarkdown().replace(/^# .*\n+/, '');
  return {
    detectors: detectorCatalogMarkdown(),
    runbooks: nest(runbooks),
  };
}
