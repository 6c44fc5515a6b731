// The browser benchmarks' scenario (scripts/bench-www.mjs, scripts/ab-www.mjs).
// A typical scenario: a service principal profile embedding one report on an RLS dataset, with
// one identity (what a portal sends on every page view).
const WS = 'a1a1a1a1-0000-4000-8000-000000000001';
const DS = 'd1d1d1d1-0000-4000-8000-000000000001';
const REP = 'e1e1e1e1-0000-4000-8000-000000000001';
export const scenario = {
  caller: {
    principalType: 'App',
    objectId: '6b0c7a38-0f0e-4c55-9a66-0a8c8a1e3f01',
    profile: { id: '0c0c0c0c-1111-4111-8111-000000000001', displayName: 'Contoso' },
  },
  endpoint: { kind: 'GenerateTokenV2' },
  workspaces: [{ id: WS, name: 'Contoso', type: 'Workspace', callerAccess: 'Admin' }],
  datasets: [{ id: DS, name: 'Sales', workspaceId: WS, model: 'Import', roles: ['Customer'] }],
  reports: [
    {
      id: REP,
      name: 'Sales report',
      workspaceId: WS,
      datasetId: DS,
      reportType: 'PowerBIReport',
      embedUrl: `https://app.powerbi.com/reportEmbed?reportId=${REP}&groupId=${WS}`,
    },
  ],
  request: {
    reports: [{ id: REP }],
    datasets: [{ id: DS }],
    identities: [{ username: 'alice@contoso.com', roles: ['Customer'], datasets: [DS] }],
  },
};
