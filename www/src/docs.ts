// Microsoft's documents the rules cite, by the core's document id: the title a user knows and its
// page on Microsoft Learn. The core's `Document::url` holds the same links (a core test compares).
import { h } from './dom';
import type { Document } from './wasm';

export interface DocRef {
  title: string;
  url?: string;
}

export const DOCS: Record<Document, DocRef> = {
  'seed-000-profiles-migration': {
    title: 'Migrate multi-customer applications to the service principal profiles model',
    url: 'https://learn.microsoft.com/en-us/power-bi/developer/embedded/migration-to-sp-profiles',
  },
  'seed-003-effective-identity': {
    title: 'Set effective identity',
    url: 'https://learn.microsoft.com/en-us/training/modules/power-bi-embedded-permissions-analytics/identity',
  },
  'seed-004-token-considerations': {
    title: 'Considerations when generating an embed token',
    url: 'https://learn.microsoft.com/en-us/power-bi/developer/embedded/generate-embed-token',
  },
  'powerbi-rest-swagger': {
    title: 'Power BI REST API reference',
    url: 'https://learn.microsoft.com/en-us/rest/api/power-bi/',
  },
  'service-behaviour': { title: 'Power BI service behaviour' },
  embedgate: { title: 'Embedgate' },
};

/** A document's title as a link to its page (a new tab), or as plain text where it has none. */
export function docLink(doc: DocRef, className: string, text = doc.title): HTMLElement {
  return doc.url
    ? h('a', { class: className, href: doc.url, target: '_blank', rel: 'noopener' }, text)
    : h('span', { class: className }, text);
}
