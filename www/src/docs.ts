// Microsoft's documents the rules cite, by the core's document id: the title a user knows and its
// page on Microsoft Learn. The core's `Document::url` holds the same links (a core test compares).
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
